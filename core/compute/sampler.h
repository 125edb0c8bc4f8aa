// Sampler: picks the next token from a row of logits.
// Owns: greedy argmax and the llama.cpp-like sampling chain with a seeded,
// platform-independent random draw. Does not own: logits (engine) or the
// token history (the caller passes it).
//
// The chain, in this order (llama.cpp's common sampler default order,
// without the samplers moerun does not offer):
//   1. repetition penalty over the last repeat_last_n tokens of the history
//      (each distinct token once: logit / penalty if > 0, else * penalty)
//   2. top-k     keep the k largest logits (k <= 0: off)
//   3. top-p     keep the smallest most-likely set with probability >= p (p >= 1: off)
//   4. min-p     keep tokens with probability >= min_p * top probability (min_p <= 0: off)
//   5. temperature  divide the logits by temp
//   6. draw      softmax, then one draw from the seeded generator
// Probabilities in 3 and 4 are the softmax of the candidates at that point,
// i.e. before temperature, as in llama.cpp. Every filter keeps at least one
// token. temp <= 0 is greedy: step 1 (if enabled), then the first maximum.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace moerun {

struct SamplerParams {
  float temp = 0.8f;            // llama.cpp's defaults throughout
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;  // 1 = off
  int32_t repeat_last_n = 64;   // 0 = off, -1 = the whole history
  uint32_t seed = 0xFFFFFFFFu;  // 0xFFFFFFFF: a random seed (llama.cpp's LLAMA_DEFAULT_SEED)
};

// One candidate token. `p` is filled by the stages that need probabilities.
struct TokenCandidate {
  int32_t id;
  float logit;
  float p;
};

// The stages, exposed so each can be tested on its own. All keep `c` sorted
// by logit, highest first (ties: lower id first) once they have sorted it.
namespace sampling {
void repetition_penalty(std::vector<TokenCandidate>& c, const std::vector<int32_t>& history, float penalty,
                        int32_t last_n);
void sort_desc(std::vector<TokenCandidate>& c);
void softmax(std::vector<TokenCandidate>& c);  // fills p; leaves order unchanged
void top_k(std::vector<TokenCandidate>& c, int32_t k);
void top_p(std::vector<TokenCandidate>& c, float p);
void min_p(std::vector<TokenCandidate>& c, float p);
void temperature(std::vector<TokenCandidate>& c, float t);
// Index in `c` of the token a uniform number u in [0, 1) selects by
// cumulative probability (p must be filled).
size_t pick(const std::vector<TokenCandidate>& c, double u);
}  // namespace sampling

class Sampler {
 public:
  explicit Sampler(const SamplerParams& params);

  // Samples one id from logits[0..n_vocab). `history` is the prompt and the
  // tokens generated so far (for the repetition penalty). A NaN or infinite
  // logit (damaged weights, an unstable model) is a runtime Error: sorting
  // or sampling it would give an arbitrary token, or worse.
  int32_t sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history);

  // Restarts the random sequence.
  void reseed(uint32_t seed);
  uint32_t seed() const { return seed_; }
  const SamplerParams& params() const { return params_; }

 private:
  SamplerParams params_;
  uint32_t seed_;
  std::mt19937_64 rng_;  // its output sequence is fixed by the C++ standard
  std::vector<TokenCandidate> cands_;
};

}  // namespace moerun
