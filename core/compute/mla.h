// Multi-head latent attention (DeepSeek-V2 §2.1) over a cache of compressed
// latents: the absorbed form used for inference, and the naive decompressed
// form kept as its reference.
#pragma once

#include <cstdint>

#include "core/compute/attention.h"
#include "core/compute/batch.h"
#include "core/compute/kv_cache.h"
#include "core/gguf/tensor.h"

namespace moerun {

struct MlaShape {
  int64_t n_head = 0;
  int64_t qk_nope = 0;       // per-head key dims without rope
  int64_t qk_rope = 0;       // rope dims (shared key k_pe)
  int64_t kv_lora_rank = 0;  // latent size
  int64_t head_v = 0;        // per-head value dims
  float scale = 1.0f;
};

// The cache row of (layer, seq, pos) is [c_kv (kv_lora_rank), k_pe (qk_rope)].
// q: [B, n_head * (qk_nope + qk_rope)] with rope applied to the last qk_rope
// of each head. wk_b: [qk_nope, kv_lora_rank, n_head]; wv_b: [kv_lora_rank,
// head_v, n_head]. out: [B, n_head * head_v].

// Absorbed: queries move into latent space (q_abs = W_kb[h] q_nope), the
// scores and the weighted sum run over the latents, W_vb[h] maps back. Cost
// per cached token is kv_lora_rank + qk_rope per head: the reason MLA caches
// the latent. scratch_qabs: [B, n_head, kv_lora_rank + qk_rope]; scratch_lat:
// [B, n_head, kv_lora_rank]. With `sel` (DSA), each row attends only to the
// positions it lists (attention.h).
void mla_attention_absorbed(const Batch& batch, const KvCache& kv, int64_t layer, const MlaShape& s,
                            const TensorView& wk_b, const TensorView& wv_b, const float* q, float* out,
                            float* scratch_qabs, float* scratch_lat, const KeySelection* sel = nullptr);

// Naive: every cached latent is decompressed into per-head keys and values,
// then plain multi-head attention. Slow; the reference for the absorbed form.
void mla_attention_naive(const Batch& batch, const KvCache& kv, int64_t layer, const MlaShape& s,
                         const TensorView& wk_b, const TensorView& wv_b, const float* q, float* out,
                         const KeySelection* sel = nullptr);

}  // namespace moerun
