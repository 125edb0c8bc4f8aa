#include "core/compute/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>

#include "core/error.h"

namespace moerun {

namespace sampling {

void repetition_penalty(std::vector<TokenCandidate>& c, const std::vector<int32_t>& history, float penalty,
                        int32_t last_n) {
  if (penalty == 1.0f || last_n == 0 || history.empty()) return;
  const size_t n = last_n < 0 ? history.size() : std::min(history.size(), static_cast<size_t>(last_n));
  std::unordered_set<int32_t> seen(history.end() - static_cast<std::ptrdiff_t>(n), history.end());
  for (TokenCandidate& t : c) {
    if (!seen.count(t.id)) continue;
    // Dividing a negative logit would raise it, so negative ones are
    // multiplied instead (CTRL paper, as llama.cpp does).
    t.logit = t.logit > 0 ? t.logit / penalty : t.logit * penalty;
  }
}

void sort_desc(std::vector<TokenCandidate>& c) {
  std::sort(c.begin(), c.end(), [](const TokenCandidate& a, const TokenCandidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  });
}

void softmax(std::vector<TokenCandidate>& c) {
  if (c.empty()) return;
  float mx = c[0].logit;
  for (const auto& t : c) mx = std::max(mx, t.logit);
  double sum = 0;
  for (auto& t : c) {
    t.p = std::exp(t.logit - mx);
    sum += t.p;
  }
  for (auto& t : c) t.p = static_cast<float>(t.p / sum);
}

void top_k(std::vector<TokenCandidate>& c, int32_t k) {
  if (k <= 0 || static_cast<size_t>(k) >= c.size()) {
    sort_desc(c);
    return;
  }
  auto cmp = [](const TokenCandidate& a, const TokenCandidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  std::partial_sort(c.begin(), c.begin() + k, c.end(), cmp);
  c.resize(static_cast<size_t>(k));
}

void top_p(std::vector<TokenCandidate>& c, float p) {
  if (p >= 1.0f || c.empty()) return;
  sort_desc(c);
  softmax(c);
  double cum = 0;
  size_t keep = c.size();
  for (size_t i = 0; i < c.size(); ++i) {
    cum += c[i].p;
    if (cum >= p) {
      keep = i + 1;
      break;
    }
  }
  c.resize(std::max<size_t>(keep, 1));
}

void min_p(std::vector<TokenCandidate>& c, float p) {
  if (p <= 0.0f || c.empty()) return;
  sort_desc(c);
  softmax(c);
  const float threshold = c[0].p * p;
  size_t keep = 1;
  while (keep < c.size() && c[keep].p >= threshold) ++keep;
  c.resize(keep);
}

void temperature(std::vector<TokenCandidate>& c, float t) {
  for (auto& x : c) x.logit /= t;
}

size_t pick(const std::vector<TokenCandidate>& c, double u) {
  double total = 0;
  for (const auto& t : c) total += t.p;
  const double target = u * total;
  double cum = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    cum += c[i].p;
    if (target < cum) return i;
  }
  return c.empty() ? 0 : c.size() - 1;  // rounding left target at the very top
}

}  // namespace sampling

Sampler::Sampler(const SamplerParams& params) : params_(params), seed_(params.seed) {
  if (seed_ == 0xFFFFFFFFu) seed_ = std::random_device{}();
  rng_.seed(seed_);
}

void Sampler::reseed(uint32_t seed) {
  seed_ = seed;
  rng_.seed(seed_);
}

int32_t Sampler::sample(const float* logits, int64_t n_vocab, const std::vector<int32_t>& history) {
  if (n_vocab <= 0) return 0;
  for (int64_t i = 0; i < n_vocab; ++i) {
    if (!std::isfinite(logits[i])) {
      fail_runtime("the model produced a non-finite logit (" + std::to_string(logits[i]) + ") for token " +
                   std::to_string(i) + ": its weights may be damaged");
    }
  }
  const bool penalize = params_.repeat_penalty != 1.0f && params_.repeat_last_n != 0 && !history.empty();
  if (params_.temp <= 0 && !penalize) {
    // Greedy: the first maximum, the tie rule the llama.cpp oracle uses too.
    return static_cast<int32_t>(std::max_element(logits, logits + n_vocab) - logits);
  }
  cands_.resize(static_cast<size_t>(n_vocab));
  for (int64_t i = 0; i < n_vocab; ++i) cands_[i] = {static_cast<int32_t>(i), logits[i], 0.0f};
  sampling::repetition_penalty(cands_, history, params_.repeat_penalty, params_.repeat_last_n);
  if (params_.temp <= 0) {
    size_t best = 0;
    for (size_t i = 1; i < cands_.size(); ++i) {
      if (cands_[i].logit > cands_[best].logit) best = i;
    }
    return cands_[best].id;
  }
  sampling::top_k(cands_, params_.top_k);
  sampling::top_p(cands_, params_.top_p);
  sampling::min_p(cands_, params_.min_p);
  sampling::temperature(cands_, params_.temp);
  sampling::softmax(cands_);
  // 53 random bits -> [0, 1): std::uniform_real_distribution's output is
  // implementation-defined, this is the same on every platform.
  const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0);
  return cands_[sampling::pick(cands_, u)].id;
}

}  // namespace moerun
