// Text generation in named phases: prefill (the prompt, in chunks),
// decode_step (one token), generate (the loop with sampling and streaming).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/compute/engine.h"
#include "core/compute/sampler.h"

namespace moerun::cli {

struct GenerateStats {
  int64_t n_prompt = 0;
  int64_t n_generated = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

// Evaluates `prompt` from position `start` of sequence `seq` in chunks of
// `chunk` tokens; returns the logits after the last prompt token.
std::vector<float> prefill(Engine& engine, const std::vector<int32_t>& prompt, int64_t start, int64_t seq,
                           int64_t chunk = 512);
// Feeds one token at `pos`; returns its logits.
const std::vector<float>& decode_step(Engine& engine, int32_t token, int64_t pos, int64_t seq);

struct GenerateOptions {
  int64_t n_predict = 128;  // < 0: until end of generation or a full context
  bool ignore_eos = false;
};

// Prefills the prompt, then samples up to n_predict tokens, calling on_token
// for each (return false to stop). Stops at an end-of-generation token
// unless ignore_eos, and when the context is full.
GenerateStats generate(Engine& engine, const std::vector<int32_t>& prompt, Sampler& sampler,
                       const GenerateOptions& opt, const std::function<bool(int32_t)>& on_token);

}  // namespace moerun::cli
