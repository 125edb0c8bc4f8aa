// Perplexity as llama.cpp's llama-perplexity computes it (its default mode),
// so figures from both tools can be compared:
//   - the whole file is tokenized once, with BOS if the vocabulary adds one;
//   - it is cut into non-overlapping windows of n_ctx tokens from the start
//     (n_chunk = min(--chunks, tokens / n_ctx)); a window's first token is
//     replaced by BOS when the vocabulary adds one;
//   - each window is evaluated from an empty cache, and only its second
//     half is scored: the logits at positions n_ctx/2 .. n_ctx-2 predict the
//     tokens after them (so every scored token has at least n_ctx/2 of
//     context);
//   - the score of a token is -log softmax(logits)[next]: the max logit
//     subtracted in float, exp in float, the sum and log in double;
//   - perplexity = exp(mean), and its ± is exp(mean) * the standard error
//     of the mean: sqrt((mean of squares - mean²) / (count - 1)).
// Owns: the windows and the arithmetic. Does not own: running the model
// (cmd_perplexity.cpp) or reading the text.
#pragma once

#include <cstdint>
#include <vector>

namespace moerun::cli {

struct PerplexityPlan {
  int64_t n_ctx = 0;     // tokens per window
  int64_t n_chunk = 0;   // windows evaluated
  int64_t first = 0;     // first position whose logits are scored: n_ctx / 2
  // Tokens of window `chunk`, its first replaced by `bos` when bos >= 0.
  std::vector<int32_t> window(const std::vector<int32_t>& tokens, int64_t chunk, int32_t bos) const;
};

// Throws a bad-input Error when the text has fewer than 2 * n_ctx tokens
// (llama-perplexity's requirement). max_chunks < 0: every whole window.
PerplexityPlan plan_perplexity(int64_t n_tokens, int64_t n_ctx, int64_t max_chunks);

class NllSum {
 public:
  // Adds -log p(target) under `logits` (n_vocab of them).
  void add(const float* logits, int64_t n_vocab, int32_t target);
  int64_t count() const { return count_; }
  double perplexity() const;
  // The ± llama-perplexity prints (0 with fewer than 2 tokens).
  double uncertainty() const;

 private:
  double nll_ = 0, nll2_ = 0;
  int64_t count_ = 0;
};

}  // namespace moerun::cli
