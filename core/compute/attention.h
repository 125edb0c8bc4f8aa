// Attention over the KV cache. Dense grouped-query attention for now; MLA,
// DSA and block-sparse variants live beside it.
#pragma once

#include <cstdint>

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

// Stores each token's K and V rows into the cache at (seq, pos).
// k: [B, n_head_kv * head_dim_k], v: [B, n_head_kv * head_dim_v].
void kv_store(const Batch& batch, KvCache& kv, int64_t layer, const float* k, const float* v);

// Causal attention: token b attends positions 0..pos[b] of its sequence.
// q: [B, n_head * head_dim_k] (rope applied); out: [B, n_head * head_dim_v].
// The cache rows hold n_head_kv keys of head_dim_k, then values.
void gqa_attention(const Batch& batch, const KvCache& kv, int64_t layer, const GqaShape& s, const float* q,
                   float* out);

}  // namespace moerun
