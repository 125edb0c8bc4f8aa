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
}

void KvCache::clear(int64_t seq) {
  Seq& s = seqs_[seq];
  free_pages_.insert(free_pages_.end(), s.pages.begin(), s.pages.end());
  s.pages.clear();
  s.len = 0;
}

}  // namespace moerun
