#include "cli/perplexity.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"

namespace moerun::cli {

std::vector<int32_t> PerplexityPlan::window(const std::vector<int32_t>& tokens, int64_t chunk, int32_t bos) const {
  const auto begin = tokens.begin() + chunk * n_ctx;
  std::vector<int32_t> w(begin, begin + n_ctx);
  if (bos >= 0) w[0] = bos;
  return w;
}

PerplexityPlan plan_perplexity(int64_t n_tokens, int64_t n_ctx, int64_t max_chunks) {
  if (n_ctx < 4) fail("perplexity: the context must be at least 4 tokens, got " + std::to_string(n_ctx));
  if (n_tokens < 2 * n_ctx) {
    fail("perplexity: the text has " + std::to_string(n_tokens) + " tokens; a context of " + std::to_string(n_ctx) +
         " needs at least " + std::to_string(2 * n_ctx) + " (use a longer text or a smaller -c)");
  }
  PerplexityPlan p;
  p.n_ctx = n_ctx;
  p.n_chunk = n_tokens / n_ctx;
  if (max_chunks >= 0) p.n_chunk = std::min(p.n_chunk, max_chunks);
  p.first = n_ctx / 2;
  return p;
}

void NllSum::add(const float* logits, int64_t n_vocab, int32_t target) {
  float max_logit = logits[0];
  for (int64_t i = 1; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
  double sum_exp = 0.0;
  for (int64_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
  const double v = -(logits[target] - max_logit - std::log(sum_exp));
  nll_ += v;
  nll2_ += v * v;
  ++count_;
}

double NllSum::perplexity() const { return count_ > 0 ? std::exp(nll_ / static_cast<double>(count_)) : 0.0; }

double NllSum::uncertainty() const {
  if (count_ < 2) return 0.0;
  const double mean = nll_ / static_cast<double>(count_);
  const double var = nll2_ / static_cast<double>(count_) - mean * mean;
  return var > 0 ? std::sqrt(var / static_cast<double>(count_ - 1)) * std::exp(mean) : 0.0;
}

}  // namespace moerun::cli
