// deepseek32 (DeepSeek-V3.2, DSA) on the tiny synth model (top_k 16): the
// indexer's choice changes exactly the positions past top_k; a top_k that
// covers the context is plain dense MLA; the absorbed and naive MLA paths
// agree over the same chosen keys; decode token by token equals one pass.
// Bad files (a missing indexer tensor or key, top_k 0, an indexer head size
// that is not a power of two) are one-line errors, exit 2. (Logits against
// llama.cpp: tests/oracle/test_deepseek32.sh.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/compute/engine.h"
#include "models/synth.h"
#include "tests/cli/cli_runner.h"
#include "tests/models/synth_edit.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;
using namespace moerun;

namespace {

std::string temp_dir() { return test::temp_dir("moerun-ds32-test-"); }

// tiny-ds32 after `edit`, written as F32.
std::string synth_file(const std::string& name, const std::function<void(SynthModel&)>& edit = {}) {
  return test::write_edited_synth(temp_dir() + "/" + name, "deepseek32", "tiny-ds32", edit);
}

using test::set_key;

std::vector<int32_t> token_ids(int n) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i) ids.push_back(1 + (i * 37 + 11) % 383);
  return ids;
}

// Logits of every position; `step` tokens per forward pass; `option` on.
std::vector<float> logits_of(const std::string& path, const std::vector<int32_t>& ids, const char* option = nullptr,
                             size_t step = 0) {
  EngineOptions o;
  o.model_path = path;
  Engine e(o);
  if (option != nullptr) REQUIRE(e.model().set_option(option, true));
  if (step == 0) step = ids.size();
  std::vector<float> all;
  Batch b;
  for (size_t i = 0; i < ids.size(); i += step) {
    b.clear();
    for (size_t j = i; j < std::min(ids.size(), i + step); ++j) b.add(ids[j], static_cast<int32_t>(j), 0, true);
    const std::vector<float>& l = e.decode(b);
    all.insert(all.end(), l.begin(), l.end());
  }
  return all;
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b, size_t from, size_t to) {
  float d = 0;
  for (size_t i = from; i < to; ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}

void expect_error(const std::string& model, const std::string& must_mention) {
  const std::string out = temp_dir() + "/out.f32";
  const test::CliResult r = test::run_moerun("logits -m " + model + " --tokens \"1 2 3\" -o " + out);
  CHECK_MESSAGE(r.status == 2, r.err);
  CHECK_MESSAGE(test::count_lines(r.err) == 1, r.err);
  CHECK_MESSAGE(r.err.find(must_mention) != std::string::npos, r.err);
  CHECK_FALSE(fs::exists(out));
}

}  // namespace

TEST_CASE("deepseek32: the indexer changes exactly the positions past top_k") {
  const std::string path = synth_file("ds32.gguf");
  const std::vector<int32_t> ids = token_ids(64);
  const std::vector<float> dsa = logits_of(path, ids), dense = logits_of(path, ids, "dense_attention");
  const size_t V = dsa.size() / ids.size();
  REQUIRE(dsa.size() == dense.size());
  // Positions 0..15 see at most 16 keys: all of them, as dense attention.
  CHECK(max_diff(dsa, dense, 0, 16 * V) == 0.0f);
  // Later positions lose keys; with this model's peaked attention that shows.
  CHECK(max_diff(dsa, dense, 16 * V, dsa.size()) > 0.1f);
}

TEST_CASE("deepseek32: a top_k that covers the context is dense MLA") {
  const std::string path = synth_file("ds32-wide.gguf", [](SynthModel& m) {
    set_key(m, "deepseek32.attention.indexer.top_k", 256);
  });
  const std::vector<int32_t> ids = token_ids(64);
  const std::vector<float> dsa = logits_of(path, ids), dense = logits_of(path, ids, "dense_attention");
  CHECK(max_diff(dsa, dense, 0, dsa.size()) == 0.0f);
}

TEST_CASE("deepseek32: absorbed and naive MLA agree over the chosen keys; decode equals one pass") {
  const std::string path = synth_file("ds32-paths.gguf");
  const std::vector<int32_t> ids = token_ids(48);
  const std::vector<float> absorbed = logits_of(path, ids), naive = logits_of(path, ids, "naive_mla");
  const std::vector<float> decode = logits_of(path, ids, nullptr, 1), chunks = logits_of(path, ids, nullptr, 20);
  float max_abs = 0;
  for (float x : absorbed) max_abs = std::max(max_abs, std::fabs(x));
  CHECK(max_abs > 1.0f);
  CHECK(max_diff(absorbed, naive, 0, absorbed.size()) <= 1e-4f * max_abs);
  CHECK(max_diff(absorbed, decode, 0, absorbed.size()) <= 1e-4f * max_abs);
  CHECK(max_diff(absorbed, chunks, 0, absorbed.size()) <= 1e-4f * max_abs);
}

TEST_CASE("deepseek32 bad input: indexer tensors and keys, top_k 0, head size not a power of two") {
  auto drop = [](const std::string& name) {
    return [name](SynthModel& m) {
      const size_t before = m.tensors.size();
      std::erase_if(m.tensors, [&](const SynthTensor& t) { return t.name == name; });
      REQUIRE(m.tensors.size() + 1 == before);
    };
  };
  auto drop_key = [](const std::string& key) {
    return [key](SynthModel& m) {
      const size_t before = m.keys.size();
      std::erase_if(m.keys, [&](const SynthKey& k) { return k.key == key; });
      REQUIRE(m.keys.size() + 1 == before);
    };
  };
  for (const char* t : {"blk.1.indexer.attn_q_b.weight", "blk.2.indexer.attn_k.weight", "blk.0.indexer.proj.weight",
                        "blk.1.indexer.k_norm.weight", "blk.2.indexer.k_norm.bias"}) {
    CAPTURE(t);
    expect_error(synth_file("no-tensor.gguf", drop(t)), t);
  }
  for (const char* k : {"deepseek32.attention.indexer.top_k", "deepseek32.attention.indexer.head_count",
                        "deepseek32.attention.indexer.key_length", "deepseek32.attention.q_lora_rank"}) {
    CAPTURE(k);
    expect_error(synth_file("no-key.gguf", drop_key(k)), k);
  }
  expect_error(synth_file("top0.gguf", [](SynthModel& m) { set_key(m, "deepseek32.attention.indexer.top_k", 0); }),
               "top_k' must be positive");
  expect_error(synth_file("head48.gguf",
                          [](SynthModel& m) { set_key(m, "deepseek32.attention.indexer.key_length", 48); }),
               "must be a power of two");
}
