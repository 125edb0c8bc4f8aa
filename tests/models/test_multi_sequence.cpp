// Several sequences in one forward pass (what `moerun batch` relies on):
// N sequences decoded together give each sequence the logits it gets when
// decoded alone — attention reads only the row's own sequence and position,
// and the routed FFN's shared expert reads don't mix rows.
//
// Each model runs N prompts of different lengths two ways:
//   alone:    one engine per prompt; prefill, then single-token steps;
//   together: one engine with N sequence slots; every prompt's prefill in
//             one pass, then steps carrying one token of every live sequence
//             (sequences drop out at different steps, as in a batch run).
// Both follow the same tokens (teacher forcing from the alone run), so the
// logits are compared row for row.
//
// How close "the same" is: F32 weights run the same arithmetic per row
// whatever the batch (the SIMD GEMM and GEMV may sum in another order: ~1e-7).
// With quantized weights each activation row is quantized on its own, so the
// scalar kernels give identical bits; the SIMD GEMM tiles (B > 1) and GEMV
// (B = 1) differ by float summation order, and now and then that ~1e-7 moves
// an activation across a Q8 rounding boundary, which a tiny model with
// peaked attention amplifies to ~1e-2 of a logit (measured: AVX2 Q4_0 tiny
// deepseek2, 2e-2; AVX-512 packed GEMM, 2e-3). A real mix-up of sequences
// or positions moves logits by O(1), well above that budget.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/compute/engine.h"
#include "models/synth.h"
#include "quant/format.h"
#include "simd/dispatch.h"
#include "tests/temp_dir.h"

using namespace moerun;

namespace {

const std::string kTestdata = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/";

struct Seq {
  std::vector<int32_t> prompt;
  int steps = 0;                    // decode steps after the prompt
  std::vector<int32_t> follow;      // the tokens fed at those steps
  std::vector<std::vector<float>> rows;  // logits after the prompt and after each step
};

int32_t argmax(const float* x, int64_t n) { return static_cast<int32_t>(std::max_element(x, x + n) - x); }

std::vector<Seq> make_seqs(int64_t n_vocab) {
  // Prompts of 1..9 tokens over the vocabulary; 3..10 steps each, so some
  // sequences finish while others go on.
  std::vector<Seq> seqs(5);
  for (size_t s = 0; s < seqs.size(); ++s) {
    const size_t len = 1 + (s * 2) % 9;
    for (size_t i = 0; i < len; ++i) {
      seqs[s].prompt.push_back(static_cast<int32_t>((7 + 131 * s + 53 * i) % static_cast<size_t>(n_vocab - 3)) + 3);
    }
    seqs[s].steps = 3 + static_cast<int>((s * 5) % 8);
  }
  return seqs;
}

void run_alone(const std::string& path, std::vector<Seq>& seqs) {
  for (Seq& s : seqs) {
    EngineOptions o;
    o.model_path = path;
    o.n_ctx = 64;
    Engine e(o);
    const int64_t V = e.n_vocab();
    Batch b;
    for (size_t i = 0; i < s.prompt.size(); ++i) b.add(s.prompt[i], static_cast<int32_t>(i), 0, i + 1 == s.prompt.size());
    s.rows.assign(1, e.decode(b));
    int32_t pos = static_cast<int32_t>(s.prompt.size());
    for (int k = 0; k < s.steps; ++k) {
      const int32_t t = argmax(s.rows.back().data(), V);
      s.follow.push_back(t);
      b.clear();
      b.add(t, pos++, 0, true);
      s.rows.push_back(e.decode(b));
    }
  }
}

// Max |together - alone| over every row, relative to the largest |logit|;
// with check_top1, the argmax of every row must agree too.
double run_together(const std::string& path, const std::vector<Seq>& seqs, bool check_top1) {
  EngineOptions o;
  o.model_path = path;
  o.n_ctx = 64;
  o.n_seq = static_cast<int64_t>(seqs.size());
  Engine e(o);
  const int64_t V = e.n_vocab();
  double max_diff = 0, max_abs = 0;
  auto compare = [&](const float* got, const std::vector<float>& want) {
    for (int64_t j = 0; j < V; ++j) {
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(got[j]) - want[j]));
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(want[j])));
    }
    if (check_top1) CHECK(argmax(got, V) == argmax(want.data(), V));
  };
  Batch b;
  for (size_t s = 0; s < seqs.size(); ++s) {
    const std::vector<int32_t>& p = seqs[s].prompt;
    for (size_t i = 0; i < p.size(); ++i) b.add(p[i], static_cast<int32_t>(i), static_cast<int32_t>(s), i + 1 == p.size());
  }
  const std::vector<float>& first = e.decode(b);
  for (size_t s = 0; s < seqs.size(); ++s) compare(first.data() + s * V, seqs[s].rows[0]);
  for (int k = 0;; ++k) {
    b.clear();
    std::vector<size_t> live;
    for (size_t s = 0; s < seqs.size(); ++s) {
      if (k >= seqs[s].steps) continue;
      b.add(seqs[s].follow[k], static_cast<int32_t>(seqs[s].prompt.size()) + k, static_cast<int32_t>(s), true);
      live.push_back(s);
    }
    if (live.empty()) break;
    const std::vector<float>& l = e.decode(b);
    for (size_t r = 0; r < live.size(); ++r) compare(l.data() + r * V, seqs[live[r]].rows[k + 1]);
  }
  REQUIRE(max_abs > 0.5);
  return max_diff / max_abs;
}

std::string synth_file(const std::string& arch, QType type) {
  const std::string path = test::temp_dir("moerun-multiseq-test-") + "/" + arch + "-" + format_traits(type).name + ".gguf";
  write_synth(find_synth_preset(arch, "").build(0), type, 7, path);
  return path;
}

void check_model(const std::string& path, double budget, bool check_top1) {
  CAPTURE(path);
  EngineOptions o;
  o.model_path = path;
  const int64_t V = Engine(o).n_vocab();
  std::vector<Seq> seqs = make_seqs(V);
  run_alone(path, seqs);
  const double rel = run_together(path, seqs, check_top1);
  MESSAGE(path << ": max |together - alone| / max |logit| = " << rel);
  CHECK(rel <= budget);
}

}  // namespace

TEST_CASE("multi-sequence: N sequences decoded together get the logits each gets alone") {
  const bool scalar = kernels().isa == Isa::Scalar;
  check_model(kTestdata + "stories260K.gguf", 1e-5, true);
  check_model(kTestdata + "tiny-deepseek-moe.gguf", 1e-5, true);
  const double quant_budget = scalar ? 0.0 : 5e-2;
  check_model(std::string(MOERUN_SOURCE_DIR) + "/models/data/tiny-deepseek-moe-q8_0.gguf", quant_budget, scalar);
  check_model(synth_file("deepseek2", QType::Q4_0), quant_budget, scalar);
  check_model(synth_file("qwen3moe", QType::Q4_K), quant_budget, scalar);
}
