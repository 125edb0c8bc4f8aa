// DeepSeek Sparse Attention (DeepSeek-V3.2-Exp, "DSA"): the lightning
// indexer's arithmetic and its top-k choice of keys. The indexer scores
// every earlier token for each query with a few cheap heads,
//   score(t, s) = sum_h w[t, h] * ReLU(q[t, h] . k[s]),
// and attention then runs over the top_k highest-scoring tokens only
// (gqa_attention with a KeySelection). The indexer's keys live in the
// model's KV cache rows, after whatever the model stores there itself.
// Owns the generic pieces (Hadamard rotation, LayerNorm, scoring, top-k);
// the projections that produce q, k and w belong to the model.
#pragma once

#include <cstdint>

#include "core/compute/attention.h"
#include "core/compute/batch.h"
#include "core/compute/kv_cache.h"

namespace moerun {

struct DsaShape {
  int64_t n_head = 0;    // indexer heads
  int64_t head_dim = 0;  // indexer head size (a power of two: the Hadamard rotation)
  int64_t top_k = 0;     // keys each query keeps
};

// x = H x / sqrt(n): the orthonormal Walsh-Hadamard rotation (Sylvester
// order, symmetric, its own inverse), n a power of two. The indexer rotates
// q and k by it so a low-precision cache loses less (DeepSeek's
// inference/model.py rotate_activation); scores are unchanged in exact
// arithmetic.
void hadamard_inplace(float* x, int64_t n);

// y = (x - mean) / sqrt(var + eps) * w + b (LayerNorm; w, b may be null).
void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps);

// The selection of every row of `batch`: rows with pos < top_k keep every
// earlier position (an empty row, i.e. dense); the others keep the top_k
// positions s <= pos by score. q: [B, n_head * head_dim]; w: [B, n_head]
// (already scaled); the indexer key of position s is head_dim floats at
// `key_offset` in the cache key row of (layer, seq, s). Exact ties are cut
// as llama.cpp cuts them (std::partial_sort). Runs on all threads (over tokens, or over the keys of
// one long sequence).
void dsa_select(const Batch& batch, const KvCache& kv, int64_t layer, int64_t key_offset, const DsaShape& s,
                const float* q, const float* w, KeySelection& sel);

}  // namespace moerun
