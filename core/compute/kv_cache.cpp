#include "core/compute/kv_cache.h"

#include <string>

#include "core/error.h"

namespace moerun {

KvCache::KvCache(const KvLayout& layout, int64_t n_ctx, int64_t n_seq)
    : layout_(layout), n_ctx_(n_ctx), row_floats_(layout.k_dim + layout.v_dim), seqs_(n_seq) {}

void KvCache::reserve(int64_t seq, int64_t n) {
  if (n > n_ctx_) {
    fail("context overflow: " + std::to_string(n) + " positions needed, the context holds " +
         std::to_string(n_ctx_) + " (raise -c)");
  }
  Seq& s = seqs_[seq];
  const int64_t pages = (n + kPageTokens - 1) / kPageTokens;
  while (static_cast<int64_t>(s.pages.size()) < pages) {
    if (!free_pages_.empty()) {
      s.pages.push_back(free_pages_.back());
      free_pages_.pop_back();
    } else {
      pool_.emplace_back(static_cast<size_t>(layout_.n_layer * kPageTokens * row_floats_), 0.0f);
      s.pages.push_back(static_cast<int32_t>(pool_.size() - 1));
    }
  }
  if (keep_bounds_) reserve_bounds(seq);
}

void KvCache::reserve_bounds(int64_t seq) {
  const int64_t blocks = static_cast<int64_t>(seqs_[seq].pages.size()) * (kPageTokens / kBoundBlock);
  const int64_t floats = (blocks + kBoundGroup - 1) / kBoundGroup * bound_group_stride();
  for (int64_t l = 0; l < layout_.n_layer; ++l) {
    std::vector<uint16_t>& b = bounds_[seq * layout_.n_layer + l];
    if (static_cast<int64_t>(b.size()) < floats) b.resize(floats, 0);
  }
}

void KvCache::set_sparse(const SparseAttnConfig& c) {
  if (c.budget < 0 || c.sinks < 0 || c.window < 0 || (c.budget > 0 && c.sinks + c.window > c.budget)) {
    fail("sparse attention: sinks " + std::to_string(c.sinks) + " + window " + std::to_string(c.window) +
         " must fit the budget of " + std::to_string(c.budget) + " keys");
  }
  sparse_ = c;
  keep_bounds_ = c.budget > 0 && c.select;
  bounds_.clear();
  if (keep_bounds_) {
    bounds_.resize(static_cast<size_t>(n_seq() * layout_.n_layer));
    for (int64_t q = 0; q < n_seq(); ++q) reserve_bounds(q);
  }
}

void KvCache::clear(int64_t seq) {
  Seq& s = seqs_[seq];
  free_pages_.insert(free_pages_.end(), s.pages.begin(), s.pages.end());
  s.pages.clear();
  s.len = 0;
}

}  // namespace moerun
