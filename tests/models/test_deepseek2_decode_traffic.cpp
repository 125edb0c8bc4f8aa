// A decode step computes only the routed experts: on the trained tiny
// DeepSeek-style MoE, every expert the router did not pick is overwritten
// with NaN and the logits stay bit-identical — so those bytes were never
// read — and the byte counter equals exactly the chosen experts' bytes.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "core/compute/engine.h"
#include "core/gguf/gguf_writer.h"

namespace fs = std::filesystem;
using namespace moerun;

namespace {

const std::string kTinyMoe = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/tiny-deepseek-moe.gguf";

std::vector<float> one_token_logits(const std::string& path, int32_t token, MoeStats* stats) {
  EngineOptions o;
  o.model_path = path;
  Engine e(o);
  Batch b;
  b.add(token, 0, 0, true);
  std::vector<float> logits = e.decode(b);
  if (stats != nullptr) *stats = *e.model().moe_stats();
  return logits;
}

}  // namespace

TEST_CASE("deepseek2: a decode step reads only the chosen experts") {
  for (int32_t token : {13, 300, 461}) {
    MoeStats stats;
    const std::vector<float> ref = one_token_logits(kTinyMoe, token, &stats);

    // 3 MoE layers (blk.1-3) x top-4, each expert run once for one token.
    REQUIRE(stats.experts_run.size() == 12);
    std::set<std::pair<int32_t, int32_t>> chosen(stats.experts_run.begin(), stats.experts_run.end());
    CHECK(chosen.size() == 12);
    auto f = GgufFile::open(kTinyMoe);
    uint64_t per_expert = 0;
    for (const char* name : {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"}) {
      const GgufTensor* t = f->find_tensor(std::string("blk.1.") + name + ".weight");
      REQUIRE(t != nullptr);
      per_expert += t->nbytes / static_cast<uint64_t>(t->ne[2]);
    }
    CHECK(stats.expert_bytes == 12 * per_expert);

    // Poison every expert slice that was not chosen in its layer.
    GgufWriter w;
    for (const auto& [key, v] : f->metadata()) w.set_value(key, v);
    std::vector<std::vector<float>> poisoned;
    for (const GgufTensor& t : f->tensors()) {
      const std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
      const bool experts = t.name.find("_exps.weight") != std::string::npos;
      if (!experts) {
        w.add_tensor_copy(t.name, static_cast<QType>(t.type), ne, t.data);
        continue;
      }
      const int32_t layer = std::stoi(t.name.substr(4));
      std::vector<float> data(reinterpret_cast<const float*>(t.data),
                              reinterpret_cast<const float*>(t.data) + t.n_elements());
      const int64_t slice = t.ne[0] * t.ne[1];
      for (int32_t e = 0; e < t.ne[2]; ++e) {
        if (chosen.count({layer, e}) == 0) std::fill(data.begin() + e * slice, data.begin() + (e + 1) * slice, NAN);
      }
      poisoned.push_back(std::move(data));
      w.add_tensor_copy(t.name, QType::F32, ne, poisoned.back().data());
    }
    const fs::path path = fs::temp_directory_path() / ("moerun-poisoned-" + std::to_string(::getpid()) + ".gguf");
    w.write(path.string());
    const std::vector<float> got = one_token_logits(path.string(), token, nullptr);
    fs::remove(path);

    REQUIRE(got.size() == ref.size());
    bool finite = true;
    for (float x : got) finite = finite && std::isfinite(x);
    CHECK(finite);
    CHECK(std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float)) == 0);
  }
}
