// Mixture-of-Experts: the router (scores -> top-k experts and their weights)
// and the routed FFN that computes only the chosen experts (DESIGN §4).
// Tokens are bucketed by expert so each active expert runs one matmul over
// all of its tokens; experts no token chose are never touched, so their
// pages are never read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/compute/ffn.h"
#include "core/compute/matmul.h"
#include "core/gguf/tensor.h"

namespace moerun {

enum class Gating {
  kSoftmax,  // DeepSeek-V2, Qwen, Mixtral
  kSigmoid,  // DeepSeek-V3: sigmoid scores, selection bias, group-limited top-k
};

struct RouterConfig {
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;       // top-k
  int64_t n_group = 1;             // expert_group_count (1: no groups)
  int64_t n_group_used = 1;        // expert_group_used_count
  Gating gating = Gating::kSoftmax;
  bool norm_weights = false;       // expert_weights_norm: weights / sum(weights)
  float weights_scale = 1.0f;      // expert_weights_scale (0 or 1: none)
  const float* selection_bias = nullptr;  // [n_expert] exp_probs_b: added for selection only
};

// For each of B tokens, router logits [n_expert] -> ids [k] and weights [k].
// Throws a runtime Error if a logit is NaN or infinite (a broken model or
// file), instead of routing on garbage.
void route(const RouterConfig& cfg, const float* logits, int64_t B, int32_t* ids, float* weights);

// The routed experts of one layer: 3-D tensors, one [F, E] (gate/up) or
// [E, F] (down) matrix per expert along ne[2].
struct ExpertTensors {
  TensorView gate;  // [E, F, n_expert] in ggml order
  TensorView up;
  TensorView down;  // [F, E, n_expert]
};

// Splits a fused ffn_gate_up_exps tensor [E, 2F, n_expert] (gate rows first,
// then up rows, per expert: llama.cpp's layout) into gate and up views.
void split_gate_up(const TensorView& gate_up, TensorView& gate, TensorView& up);

// Counts what a routed FFN touched (tests prove decode reads only the
// chosen experts; benchmarks report active bytes).
struct MoeStats {
  uint64_t expert_bytes = 0;  // weight bytes of the experts run
  int32_t layer = -1;         // set by the model before each moe_ffn call
  std::vector<std::pair<int32_t, int32_t>> experts_run;  // (layer, expert), in the order they ran
  void clear() {
    expert_bytes = 0;
    layer = -1;
    experts_run.clear();
  }
};

struct MoeScratch {
  // Bucketing: tokens per expert, first row of each, slot of each row
  // (order); fill: while bucketing the next free row per expert, then the
  // row of each (token, slot).
  std::vector<int32_t> count, offset, fill, order;
  std::vector<int32_t> active;                // experts with at least one token
  std::vector<float> xe, ye;                  // gathered inputs / outputs, grouped by expert
  FfnScratch ffn;
  // Decode path: quantized tokens, gathered per slot; gate/up outputs and
  // the quantized SwiGLU product per slot.
  QuantizedRows qx, qh;
  std::vector<uint8_t> qxe;
  std::vector<float> ge, ue;
  QuantizedRows qhs;          // the shared expert's quantized product
  std::vector<float> ys;      // the shared expert's output, one row per token
  // One expert's share of a decode step: its matrices, its quantized input
  // rows (n of them), where its gate/up rows start in ge/ue (h0, rows of
  // ld) and where its down rows go (rows of E).
  struct Job {
    TensorView gate, up, down;
    const uint8_t* a;
    int64_t n;
    int64_t h0, ld;
    float* y;
    // Prefill: byte offsets of its packed gate/up and down inputs in pin and
    // ph (SIZE_MAX: not packed, too few rows or no packed kernel).
    size_t pin = SIZE_MAX, ph = SIZE_MAX;
  };
  std::vector<Job> jobs;
  struct Chunk {
    int32_t job;
    int32_t m;  // matrix: 0 gate (or down), 1 up
    int32_t r0, r1;
  };
  std::vector<Chunk> chunks;  // one decode phase's work items
  std::vector<uint8_t> pin, ph;  // prefill: packed gate/up and down inputs of every job
};

// An expert every token goes through (DeepSeek's shared experts, fused into
// one of F * expert_shared_count rows), added with weight 1.
struct SharedExpert {
  TensorView gate, up, down;
};

// y[B, E] += sum_k weights[b, k] * expert_{ids[b, k]}(x[b]) (+ shared(x[b])
// when a shared expert is given: in decode its rows join the routed
// experts' parallel phases).
void moe_ffn(const ExpertTensors& ex, const float* x, int64_t B, const int32_t* ids, const float* weights, int64_t k,
             float* y, MoeScratch& s, MoeStats* stats = nullptr, const SharedExpert* shared = nullptr);

}  // namespace moerun
