// A NaN or Inf in a norm weight or a router bias would turn every logit into
// NaN (or pin one expert) without an error; the loader rejects such a file
// up front, naming the tensor: one line, exit 2.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "core/gguf/gguf.h"
#include "core/gguf/gguf_writer.h"
#include "models/synth.h"
#include "tests/cli/cli_runner.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;
using namespace moerun;

namespace {

std::string temp_dir() { return test::temp_dir("moerun-nonfinite-"); }

// The arch's tiny synth model, with element `at` of tensor `name` set to `value`.
std::string poisoned(const std::string& arch, const std::string& name, int64_t at, float value) {
  const std::string clean = temp_dir() + "/" + arch + "-clean.gguf";
  if (!fs::exists(clean)) write_synth(find_synth_preset(arch, "").build(0), QType::F32, 1, clean);
  auto in = GgufFile::open(clean);
  GgufWriter w;
  for (const auto& [key, v] : in->metadata()) w.set_value(key, v);
  bool found = false;
  std::vector<float> copy;
  for (const GgufTensor& t : in->tensors()) {
    const std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    if (t.name == name) {
      REQUIRE(t.type == static_cast<uint32_t>(QType::F32));
      REQUIRE(at < t.n_elements());
      copy.assign(reinterpret_cast<const float*>(t.data), reinterpret_cast<const float*>(t.data) + t.n_elements());
      copy[static_cast<size_t>(at)] = value;
      w.add_tensor_copy(t.name, QType::F32, ne, copy.data());
      found = true;
    } else {
      w.add_tensor_copy(t.name, static_cast<QType>(t.type), ne, t.data);
    }
  }
  REQUIRE_MESSAGE(found, name);
  const std::string path = temp_dir() + "/" + arch + "-poisoned.gguf";
  w.write(path);
  return path;
}

void expect_rejected(const std::string& path, const std::string& tensor) {
  const test::CliResult r = test::run_moerun("logits -m " + path + " --tokens \"1 2 3\" -o " + temp_dir() + "/out.f32");
  CHECK_MESSAGE(r.status == 2, r.err);
  CHECK_MESSAGE(test::count_lines(r.err) == 1, r.err);
  CHECK_MESSAGE(r.err.find("'" + tensor + "'") != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find("non-finite") != std::string::npos, r.err);
}

}  // namespace

TEST_CASE("non-finite weights: norms of every architecture are checked at load") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const char* arch : {"deepseek2", "qwen3moe", "qwen2moe", "llama"}) {
    CAPTURE(arch);
    expect_rejected(poisoned(arch, "blk.0.attn_norm.weight", 5, nan), "blk.0.attn_norm.weight");
    expect_rejected(poisoned(arch, "output_norm.weight", 0, -inf), "output_norm.weight");
    expect_rejected(poisoned(arch, "blk.1.ffn_norm.weight", 17, inf), "blk.1.ffn_norm.weight");
  }
  expect_rejected(poisoned("deepseek2", "blk.0.attn_kv_a_norm.weight", 3, nan), "blk.0.attn_kv_a_norm.weight");
  expect_rejected(poisoned("qwen3moe", "blk.0.attn_k_norm.weight", 1, inf), "blk.0.attn_k_norm.weight");
}

TEST_CASE("non-finite weights: DeepSeek-V3 router biases (exp_probs_b) are checked at load") {
  const float inf = std::numeric_limits<float>::infinity();
  expect_rejected(poisoned("deepseek2", "blk.1.exp_probs_b.bias", 7, inf), "blk.1.exp_probs_b.bias");
  expect_rejected(poisoned("deepseek2", "blk.2.exp_probs_b.bias", 0, std::nanf("")), "blk.2.exp_probs_b.bias");
}
