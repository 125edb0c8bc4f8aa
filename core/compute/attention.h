// Attention over the KV cache: grouped-query attention in tiles, dense
// (every position up to the query's own) or over a chosen set of positions
// per query (DSA's top-k, block-sparse pages). MLA's absorbed form runs
// through it as one shared KV head (core/compute/mla.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "core/compute/batch.h"
#include "core/compute/kv_cache.h"

namespace moerun {

struct GqaShape {
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim_k = 0;
  int64_t head_dim_v = 0;
  float scale = 1.0f;  // applied to q·k (usually 1/sqrt(head_dim_k))
  // MLA's absorbed form: the value is the first head_dim_v floats of the
  // key row (the compressed latent), so the cache stores no separate V.
  bool values_in_keys = false;
};

// Cache positions [begin, end) of one sequence.
struct KeySpan {
  int32_t begin = 0, end = 0;
};

// The positions each (batch row b, KV head g) attends to when not all of
// 0..pos[b]: spans[offset[b * n_head_kv + g] .. offset[b * n_head_kv + g + 1]),
// sorted, disjoint, none past pos[b]. An empty range means dense causal.
struct KeySelection {
  int64_t n_head_kv = 1;
  std::vector<int64_t> offset;  // B * n_head_kv + 1 entries
  std::vector<KeySpan> spans;

  void clear(int64_t n_head_kv_) {
    n_head_kv = n_head_kv_;
    offset.assign(1, 0);
    spans.clear();
  }
  // Appends (row, head) pairs in order: add spans, then close_row().
  void add(int32_t begin, int32_t end) {
    if (!spans.empty() && static_cast<int64_t>(spans.size()) > offset.back() && spans.back().end == begin) {
      spans.back().end = end;  // coalesce with the previous span of this pair
    } else {
      spans.push_back({begin, end});
    }
  }
  void close_row() { offset.push_back(static_cast<int64_t>(spans.size())); }
  int64_t n_spans(int64_t b, int64_t g) const { return offset[b * n_head_kv + g + 1] - offset[b * n_head_kv + g]; }
  const KeySpan* row(int64_t b, int64_t g) const { return spans.data() + offset[b * n_head_kv + g]; }
};

// Stores each token's K and V rows into the cache at (seq, pos), and keeps
// the cache's per-block key bounds (block-sparse attention) up to date.
// k: [B, k_dim], v: [B, v_dim] (the cache layout's sizes).
void kv_store(const Batch& batch, KvCache& kv, int64_t layer, const float* k, const float* v);

// Causal attention: token b attends positions 0..pos[b] of its sequence, or
// with `sel` only the positions it lists for the row. Without `sel`, a cache
// with block-sparse attention on (KvCache::sparse()) chooses the positions
// of each long-context query itself (core/compute/block_sparse.h).
// q: [B, n_head * head_dim_k] (rope applied); out: [B, n_head * head_dim_v].
// The cache rows hold n_head_kv keys of head_dim_k, then values.
void gqa_attention(const Batch& batch, const KvCache& kv, int64_t layer, const GqaShape& s, const float* q,
                   float* out, const KeySelection* sel = nullptr);

}  // namespace moerun
