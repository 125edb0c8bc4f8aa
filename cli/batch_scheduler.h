// Continuous batching for `moerun batch`: up to N sequences decode together,
// one token of each per forward pass, so a decode step reads each chosen
// expert's weights once for all the sequences routed to it. A sequence that
// finishes is replaced at once by the next request.
//
// A new request's prompt is prefilled on its own, between decode steps, in
// the same 512-token chunks `run` uses, not chunked into a decode step:
//  - its logits then do not depend on what else is running or on N;
//  - a prefill chunk is a GEMM over many tokens and already reads the
//    weights once per chunk; adding a few decode rows to it saves little.
// The cost: the running sequences wait while a prompt is prefilled.
// A decode step's rows get the same logits as they would alone wherever the
// kernels compute a row the same way in a batch as alone: F32 weights and the
// scalar kernels (tests/models/test_multi_sequence.cpp). The SIMD kernels for
// quantized weights sum a one-row GEMV and an N-row GEMM in different orders
// (~1e-7 apart), which now and then flips a near-tie between two tokens, so
// there a greedy answer can differ between N = 1 and N = 8.
//
// Each sequence has its own sampler, seeded from its request, so a sampled
// answer depends on its request and its logits only, not on the other
// sequences or the order requests finish in.
// Owns: the slots, sampling, stop conditions and timing. Does not own:
// reading requests or writing answers (the callbacks), tokenizing prompts.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/compute/engine.h"
#include "core/compute/sampler.h"

namespace moerun::cli {

struct BatchJob {
  int64_t tag = 0;               // the caller's handle, given back with the outcome
  std::vector<int32_t> prompt;   // non-empty, shorter than the context
  int64_t max_tokens = 128;      // < 0: until end of generation or a full context
  SamplerParams sampling;
};

struct BatchOutcome {
  int64_t tag = 0;
  std::string text;
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;         // generated tokens, the end-of-generation token not counted
  std::string finish_reason;      // "stop" or "length" (max_tokens or the context)
  double seconds = 0;             // from the start of its prefill to its last token
};

struct BatchCallbacks {
  // Fills the next job; false when there are no more.
  std::function<bool(BatchJob&)> next;
  // Called for each finished job, in the order they finish.
  std::function<void(BatchOutcome&&)> done;
  // Polled before each prefill and decode step: true stops the run at once,
  // leaving unfinished jobs unreported.
  std::function<bool()> stop;
  // After each forward pass: tokens generated so far in total.
  std::function<void(int64_t generated)> progress;
};

struct BatchRunStats {
  int64_t decode_steps = 0;
  int64_t decode_rows = 0;    // sum over steps of the sequences in the step
  int64_t prefill_tokens = 0;
  int64_t generated = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

class BatchScheduler {
 public:
  // The engine needs at least `parallel` sequence slots.
  BatchScheduler(Engine& engine, int64_t parallel);
  // Runs until next() has no more jobs and every job has finished, or
  // stop() says so. Returns false if stopped with work unfinished.
  bool run(const BatchCallbacks& cb);
  const BatchRunStats& stats() const { return stats_; }

 private:
  struct Slot;
  void start(Slot& s, int64_t seq, BatchJob&& job, const BatchCallbacks& cb);
  // Takes the token sampled for slot `s` at its current position.
  void accept(Slot& s, int32_t token, const BatchCallbacks& cb);
  void finish(Slot& s, const char* reason, const BatchCallbacks& cb);

  Engine& engine_;
  int64_t parallel_;
  BatchRunStats stats_;
};

}  // namespace moerun::cli
