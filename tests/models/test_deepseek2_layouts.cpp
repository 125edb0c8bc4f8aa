// deepseek2 files come in several tensor layouts: split attn_k_b/attn_v_b or
// the older fused attn_kv_b; split ffn_gate_exps/ffn_up_exps or the newer
// fused ffn_gate_up_exps. Rewriting the trained tiny model into the other
// layouts must not change a single logit.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/compute/engine.h"
#include "core/gguf/gguf_writer.h"

namespace fs = std::filesystem;
using namespace moerun;

namespace {

const std::string kTinyMoe = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/tiny-deepseek-moe.gguf";

std::vector<float> logits_of(const std::string& path) {
  EngineOptions o;
  o.model_path = path;
  Engine e(o);
  Batch b;
  const std::vector<int32_t> ids = {13, 461, 441, 446, 459, 441, 467, 13, 300, 301};
  for (size_t i = 0; i < ids.size(); ++i) b.add(ids[i], static_cast<int32_t>(i), 0, true);
  return e.decode(b);
}

const float* f32(const GgufTensor& t) { return reinterpret_cast<const float*>(t.data); }

// Rewrites the tiny model, fusing attention and/or expert tensors.
std::string rewrite(const std::string& name, bool fuse_kv_b, bool fuse_gate_up, std::vector<std::vector<float>>& keep) {
  auto f = GgufFile::open(kTinyMoe);
  GgufWriter w;
  for (const auto& [key, v] : f->metadata()) {
    // The fused kv_b layout predates the *_mla keys: key/value lengths are per head.
    if (fuse_kv_b && (key == "deepseek2.attention.key_length_mla" || key == "deepseek2.attention.value_length_mla" ||
                      key == "deepseek2.attention.key_length" || key == "deepseek2.attention.value_length")) {
      continue;
    }
    w.set_value(key, v);
  }
  const int64_t H = 4, kvl = 64, nope = 32, hv = 32;
  if (fuse_kv_b) {
    w.set_u32("deepseek2.attention.key_length", 48);
    w.set_u32("deepseek2.attention.value_length", 32);
  }
  for (const GgufTensor& t : f->tensors()) {
    const std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    const std::string& n = t.name;
    const std::string layer = n.substr(0, n.find('.', 4) + 1);  // "blk.N."
    if (fuse_kv_b && n.find("attn_k_b") != std::string::npos) {
      const GgufTensor* vb = f->find_tensor(layer + "attn_v_b.weight");
      std::vector<float> kvb(static_cast<size_t>(H * (nope + hv) * kvl));
      for (int64_t h = 0; h < H; ++h) {
        for (int64_t r = 0; r < kvl; ++r) {
          for (int64_t j = 0; j < nope; ++j) kvb[(h * (nope + hv) + j) * kvl + r] = f32(t)[(h * kvl + r) * nope + j];
          for (int64_t i = 0; i < hv; ++i) kvb[(h * (nope + hv) + nope + i) * kvl + r] = f32(*vb)[(h * hv + i) * kvl + r];
        }
      }
      keep.push_back(std::move(kvb));
      w.add_tensor_copy(layer + "attn_kv_b.weight", QType::F32, {kvl, H * (nope + hv)}, keep.back().data());
      continue;
    }
    if (fuse_kv_b && n.find("attn_v_b") != std::string::npos) continue;
    if (fuse_gate_up && n.find("ffn_gate_exps") != std::string::npos) {
      const GgufTensor* up = f->find_tensor(layer + "ffn_up_exps.weight");
      const int64_t E = t.ne[0], F = t.ne[1], NE = t.ne[2];
      std::vector<float> gu(static_cast<size_t>(E * 2 * F * NE));
      for (int64_t e = 0; e < NE; ++e) {
        std::memcpy(&gu[e * 2 * F * E], f32(t) + e * F * E, F * E * sizeof(float));
        std::memcpy(&gu[(e * 2 + 1) * F * E], f32(*up) + e * F * E, F * E * sizeof(float));
      }
      keep.push_back(std::move(gu));
      w.add_tensor_copy(layer + "ffn_gate_up_exps.weight", QType::F32, {E, 2 * F, NE}, keep.back().data());
      continue;
    }
    if (fuse_gate_up && n.find("ffn_up_exps") != std::string::npos) continue;
    w.add_tensor_copy(n, static_cast<QType>(t.type), ne, t.data);
  }
  const std::string path = (fs::temp_directory_path() / (std::to_string(::getpid()) + "-" + name)).string();
  w.write(path);
  return path;
}

}  // namespace

TEST_CASE("deepseek2: fused attn_kv_b and fused ffn_gate_up_exps give the same logits") {
  const std::vector<float> ref = logits_of(kTinyMoe);
  std::vector<std::vector<float>> keep;
  for (const auto& fused : {std::pair{true, false}, std::pair{false, true}, std::pair{true, true}}) {
    const bool kv_b = fused.first, gate_up = fused.second;  // (clang 14: no structured bindings in CHECK_MESSAGE)
    const std::string path = rewrite("layout.gguf", kv_b, gate_up, keep);
    const std::vector<float> got = logits_of(path);
    fs::remove(path);
    REQUIRE(got.size() == ref.size());
    CHECK_MESSAGE(std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float)) == 0,
                  "fused kv_b " << kv_b << ", fused gate_up " << gate_up);
  }
}
