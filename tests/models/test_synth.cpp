// moerun synth: every tiny preset writes a file that loads and runs, with
// the keys, shapes and types its description gives; files are deterministic
// for a seed; magnitudes are what the description promises; the real-shape
// presets have the published parameter counts. (The logits of the tiny
// files are checked against llama.cpp in tests/oracle/test_synth_archs.sh.)
#include <doctest/doctest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/compute/kv_cache.h"
#include "core/compute/model.h"
#include "core/error.h"
#include "core/gguf/gguf.h"
#include "models/synth.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;
using namespace moerun;

namespace {

std::string temp_path(const std::string& name) { return test::temp_dir("moerun-synth-test-") + "/" + name; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<float> f32_data(const GgufTensor& t) {
  REQUIRE(t.type == static_cast<uint32_t>(QType::F32));
  std::vector<float> v(static_cast<size_t>(t.n_elements()));
  std::memcpy(v.data(), t.data, v.size() * sizeof(float));
  return v;
}

double rms(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return std::sqrt(s / static_cast<double>(n));
}

}  // namespace

TEST_CASE("synth: every tiny preset writes a GGUF with its keys, shapes and types, and moerun runs it") {
  int n_tiny = 0;
  for (const SynthPreset& p : synth_presets()) {
    if (!p.tiny) continue;
    ++n_tiny;
    const SynthModel m = p.build(0);
    for (QType type : {QType::F32, QType::Q8_0}) {
      CAPTURE(p.name);
      CAPTURE(format_traits(type).name);
      const std::string path = temp_path(p.name + ".gguf");
      write_synth(m, type, 1, path);
      auto f = GgufFile::open(path);
      CHECK(f->architecture() == p.arch);
      for (const SynthKey& k : m.keys) CHECK_MESSAGE(f->has(k.key), k.key);
      CHECK(f->tensors().size() == m.tensors.size());
      for (const SynthTensor& t : m.tensors) {
        const GgufTensor* g = f->find_tensor(t.name);
        REQUIRE_MESSAGE(g != nullptr, t.name);
        CHECK(g->n_dims == static_cast<int>(t.ne.size()));
        for (size_t d = 0; d < t.ne.size(); ++d) CHECK(g->ne[d] == t.ne[d]);
        CHECK(g->type == static_cast<uint32_t>(synth_tensor_type(t, type)));
      }
      CHECK(f->get_string_array("tokenizer.ggml.tokens").size() == static_cast<size_t>(m.n_vocab));

      auto model = load_model(*f);
      const ModelInfo& mi = model->info();
      CHECK(mi.n_vocab == m.n_vocab);
      CHECK(mi.n_layer == static_cast<int64_t>(f->get_int(p.arch + ".block_count")));
      CHECK(mi.n_expert == static_cast<int64_t>(f->get_int(p.arch + ".expert_count")));
      CHECK(mi.n_expert_used == static_cast<int64_t>(f->get_int(p.arch + ".expert_used_count")));
      CHECK(mi.n_params == m.n_params());
      CHECK(mi.n_params_active < mi.n_params);
      // One forward pass over 5 tokens: finite logits, and the routed FFNs
      // ran some experts but (top-k of 16 for 5 tokens) not necessarily all.
      KvCache kv(model->kv_layout(), 16, 1);
      kv.reserve(0, 5);
      Batch batch;
      for (int32_t i = 0; i < 5; ++i) batch.add(1 + 37 * i, i, 0, true);
      std::vector<float> logits(static_cast<size_t>(5 * mi.n_vocab));
      model->forward(batch, kv, logits.data());
      CHECK(std::all_of(logits.begin(), logits.end(), [](float x) { return std::isfinite(x); }));
      REQUIRE(model->moe_stats() != nullptr);
      CHECK(model->moe_stats()->expert_bytes > 0);
    }
  }
  CHECK(n_tiny >= 7);
}

TEST_CASE("synth: active parameters per token leave out exactly the unchosen experts") {
  const SynthModel m = find_synth_preset("qwen3moe", "tiny-qwen3moe").build(0);
  const std::string path = temp_path("active.gguf");
  write_synth(m, QType::F32, 1, path);
  auto f = GgufFile::open(path);
  auto model = load_model(*f);
  // 3 layers x (16 - 4) unchosen experts x 3 matrices of 128 x 64, and the
  // (untied) embedding table of 384 x 128, of which one row is read.
  const int64_t unchosen = 3 * 12 * 3 * 128 * 64;
  CHECK(model->info().n_params_active == m.n_params() - unchosen - 384 * 128);
  CHECK(model->info().bytes_active == static_cast<uint64_t>(model->info().n_params_active) * 4);
}

TEST_CASE("synth: the same seed gives the same bytes whatever the thread count; another seed differs") {
  const SynthModel m = find_synth_preset("deepseek2", "tiny-v3").build(0);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  write_synth(m, QType::Q4_0, 5, temp_path("seed5-1t.gguf"));
  omp_set_num_threads(std::max(2, threads));
  write_synth(m, QType::Q4_0, 5, temp_path("seed5-nt.gguf"));
  write_synth(m, QType::Q4_0, 6, temp_path("seed6.gguf"));
  omp_set_num_threads(threads);
  const std::string a = slurp(temp_path("seed5-1t.gguf"));
  CHECK(a.size() > 100000);
  CHECK(a == slurp(temp_path("seed5-nt.gguf")));
  const std::string c = slurp(temp_path("seed6.gguf"));
  CHECK(a.size() == c.size());
  CHECK(a != c);
}

TEST_CASE("synth: magnitudes: N(0, gain²/fan_in) with varying block scales, norms near their gain") {
  const SynthModel m = find_synth_preset("qwen3moe", "tiny-qwen3moe").build(0);
  const std::string path = temp_path("magnitudes.gguf");
  write_synth(m, QType::F32, 3, path);
  auto f = GgufFile::open(path);

  // attn_output: gain 1, fan-in 256 (4 heads x 64) -> rms 1/16.
  const GgufTensor* wo = f->find_tensor("blk.1.attn_output.weight");
  REQUIRE(wo != nullptr);
  const std::vector<float> w = f32_data(*wo);
  CHECK(rms(w.data(), static_cast<int64_t>(w.size())) == doctest::Approx(1.0 / 16).epsilon(0.05));
  // The per-32-value block scales 2^U(-1,1) spread the block RMS over ~4x.
  double lo = 1e9, hi = 0;
  for (size_t b = 0; b + 32 <= w.size(); b += 32) {
    const double r = rms(w.data() + b, 32);
    lo = std::min(lo, r);
    hi = std::max(hi, r);
  }
  CHECK(hi / lo > 3.0);
  // A quantizer that used one scale for every block would be wrong here; the
  // mean of the values stays near 0.
  double mean = 0;
  for (float x : w) mean += x;
  CHECK(std::fabs(mean / static_cast<double>(w.size())) < 0.01 / 16);

  // attn_q_norm: gain 2 (peaked attention) x (1 + U(-0.2, 0.2)).
  for (float x : f32_data(*f->find_tensor("blk.0.attn_q_norm.weight"))) {
    CHECK(x >= 1.6f);
    CHECK(x <= 2.4f);
  }
  for (float x : f32_data(*f->find_tensor("blk.2.ffn_norm.weight"))) {
    CHECK(x >= 0.8f);
    CHECK(x <= 1.2f);
  }
  // Two tensors never share values (each has its own key from its name).
  const std::vector<float> w0 = f32_data(*f->find_tensor("blk.0.attn_output.weight"));
  CHECK(w0 != w);
}

TEST_CASE("synth: V3 selection bias is small and uniform; quantized files keep norms, routers and biases F32") {
  const SynthModel m = find_synth_preset("deepseek2", "tiny-v3").build(0);
  const std::string path = temp_path("v3-q4_k.gguf");
  write_synth(m, QType::Q4_K, 2, path);
  auto f = GgufFile::open(path);
  const std::vector<float> bias = f32_data(*f->find_tensor("blk.1.exp_probs_b.bias"));
  CHECK(bias.size() == 16);
  CHECK(*std::max_element(bias.begin(), bias.end()) <= 0.1f);
  CHECK(*std::min_element(bias.begin(), bias.end()) >= -0.1f);
  CHECK(*std::max_element(bias.begin(), bias.end()) - *std::min_element(bias.begin(), bias.end()) > 0.05f);
  auto type_of = [&](const char* name) { return static_cast<QType>(f->find_tensor(name)->type); };
  CHECK(type_of("blk.1.ffn_gate_inp.weight") == QType::F32);
  CHECK(type_of("blk.0.attn_norm.weight") == QType::F32);
  CHECK(type_of("output_norm.weight") == QType::F32);
  // Rows of 128 or 32 do not fit a Q4_K block (256): Q5_0, as llama.cpp falls back.
  CHECK(type_of("blk.1.ffn_up_exps.weight") == QType::Q5_0);
  CHECK(type_of("blk.0.attn_k_b.weight") == QType::Q5_0);
  CHECK(f->get_int("general.file_type") == 15);  // llama.h LLAMA_FTYPE_MOSTLY_Q4_K_M

  SynthTensor odd{"x", {100, 4}, SynthInit::kNormal, 1.0f, true};
  CHECK(synth_tensor_type(odd, QType::Q8_0) == QType::F16);  // fits no 32-block
  SynthTensor big{"x", {512, 4}, SynthInit::kNormal, 1.0f, true};
  CHECK(synth_tensor_type(big, QType::Q4_K) == QType::Q4_K);
}

TEST_CASE("synth: real-shape presets have the published parameter counts") {
  // Totals from the model cards (billions of parameters); the descriptions
  // leave out DeepSeek-V3's multi-token-prediction block (not in the forward pass).
  const struct {
    const char* arch;
    const char* preset;
    double billions;
  } cards[] = {
      {"deepseek2", "ds2-lite", 15.7},        // DeepSeek-V2-Lite: 15.7B total
      {"deepseek2", "ds3", 671.0},            // DeepSeek-V3: 671B total
      {"qwen3moe", "qwen3-30b-a3b", 30.5},    // Qwen3-30B-A3B: 30.5B total
      {"qwen2moe", "qwen1.5-moe-a2.7b", 14.3},// Qwen1.5-MoE-A2.7B: 14.3B total
      {"llama", "mixtral-8x7b", 46.7},        // Mixtral-8x7B: 46.7B total
  };
  for (const auto& c : cards) {
    CAPTURE(c.preset);
    const SynthModel m = find_synth_preset(c.arch, c.preset).build(0);
    CHECK(static_cast<double>(m.n_params()) / 1e9 == doctest::Approx(c.billions).epsilon(0.01));
  }
  // DeepSeek-V3.2-Exp is V3 plus a lightning indexer in each of its 61
  // layers: attn_q_b 1536 x (64 x 128), attn_k 7168 x 128, proj 7168 x 64,
  // k_norm weight and bias 2 x 128.
  const int64_t indexer = 1536 * 64 * 128 + 7168 * 128 + 7168 * 64 + 2 * 128;
  CHECK(find_synth_preset("deepseek32", "ds32").build(0).n_params() ==
        find_synth_preset("deepseek2", "ds3").build(0).n_params() + 61 * indexer);
}

TEST_CASE("synth: --layers shrinks a preset, keeping at least one MoE block") {
  const SynthPreset& ds3 = find_synth_preset("deepseek2", "ds3");
  auto key = [](const SynthModel& m, const std::string& k) {
    for (const SynthKey& x : m.keys) {
      if (x.key == k) return std::get<uint32_t>(x.value);
    }
    FAIL("no key " << k);
    return 0u;
  };
  const SynthModel m4 = ds3.build(4);
  CHECK(key(m4, "deepseek2.block_count") == 4);
  CHECK(key(m4, "deepseek2.leading_dense_block_count") == 3);
  const SynthModel m2 = ds3.build(2);
  CHECK(key(m2, "deepseek2.leading_dense_block_count") == 1);
  // A shrunk ds2-lite is no longer recognised as "lite" by its 27 layers:
  // it must say q_lora_rank = 0 for llama.cpp to load it.
  const SynthModel lite = find_synth_preset("deepseek2", "ds2-lite").build(0);
  const SynthModel lite4 = find_synth_preset("deepseek2", "ds2-lite").build(4);
  auto has = [](const SynthModel& m, const std::string& k) {
    return std::any_of(m.keys.begin(), m.keys.end(), [&](const SynthKey& x) { return x.key == k; });
  };
  CHECK_FALSE(has(lite, "deepseek2.attention.q_lora_rank"));
  CHECK(key(lite4, "deepseek2.attention.q_lora_rank") == 0);
}

TEST_CASE("synth: unknown architecture or preset is a bad-input error naming the choices") {
  try {
    find_synth_preset("nosuch", "");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.exit_status() == 2);
    CHECK(std::string(e.what()).find("deepseek2") != std::string::npos);
  }
  try {
    find_synth_preset("qwen3moe", "tiny-v3");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.exit_status() == 2);
    CHECK(std::string(e.what()).find("tiny-qwen3moe") != std::string::npos);
  }
  CHECK(find_synth_preset("llama", "").name == "tiny-mixtral");
}
