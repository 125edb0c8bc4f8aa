// DeepSeek-V3.2 (GGUF arch "deepseek32": V3.2-Exp and later): DeepSeek-V3's
// model (models/deepseek2.cpp) plus DeepSeek Sparse Attention. This file is
// the per-layer lightning indexer, as llama.cpp's converter and loader lay
// it out (src/models/deepseek32.cpp) and DeepSeek's inference/model.py
// computes it:
//   q[h] = Hadamard(RoPE_neox(indexer.attn_q_b · q_latent)[h])   the normed MLA q latent
//   k    = Hadamard(RoPE_neox(LayerNorm(indexer.attn_k · x)))      one key per token, shared by the heads
//   w[h] = (indexer.proj · x)[h] / sqrt(head_dim * n_head)
// with RoPE on the leading rope dims in NeoX order (MLA itself keeps the
// interleaved order), LayerNorm with bias and eps 1e-6. The keys go into the
// layer's KV cache rows after the MLA latent; core/compute/dsa.h scores them
// and keeps the top_k per query.
#pragma once

#include <cstdint>
#include <vector>

#include "core/compute/attention.h"
#include "core/compute/batch.h"
#include "core/compute/dsa.h"
#include "core/compute/kv_cache.h"
#include "core/gguf/gguf.h"
#include "core/gguf/tensor.h"
#include "models/binder.h"
#include "simd/float_ops.h"

namespace moerun {

struct Ds32IndexerLayer {
  TensorView attn_q_b;     // [q_lora_rank, n_head * head_dim]
  TensorView attn_k;       // [E, head_dim]
  const float* k_norm;     // [head_dim] LayerNorm weight
  const float* k_norm_b;   // [head_dim] LayerNorm bias
  TensorView proj;         // [E, n_head] per-head weights
};

class Ds32Indexer {
 public:
  Ds32Indexer() = default;
  // Reads attention.indexer.{head_count,key_length,top_k} and binds every
  // layer's indexer tensors; `rope` is MLA's (the indexer takes it in NeoX
  // order). Throws a bad-input Error naming the key or tensor.
  Ds32Indexer(const GgufFile& f, const Binder& bind, int64_t n_layer, int64_t n_embd, int64_t q_lora_rank,
              const RopeParams& rope);

  const DsaShape& shape() const { return s_; }

  // Layer l, every token of `batch`: the indexer key goes to key_rows + b * ld
  // (head_dim floats); the queries and weights are kept for select().
  // x: [B, n_embd] (the attention block's normed input); q_latent: [B,
  // q_lora_rank] (after attn_q_a_norm).
  void prepare(int64_t l, const Batch& batch, const float* x, const float* q_latent, float* key_rows, int64_t ld);
  // The top-k selection of every token of the batch prepared last, over the
  // keys stored at `key_offset` in the cache rows of layer l.
  void select(int64_t l, const Batch& batch, const KvCache& kv, int64_t key_offset, KeySelection& sel) const;

 private:
  DsaShape s_;
  RopeParams rope_;
  int64_t n_embd_ = 0, q_lora_rank_ = 0;
  std::vector<Ds32IndexerLayer> layers_;
  std::vector<float> q_, w_;  // [B, n_head * head_dim], [B, n_head]
};

}  // namespace moerun
