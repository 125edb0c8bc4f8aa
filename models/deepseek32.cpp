#include "models/deepseek32.h"

#include <cmath>
#include <string>
#include <vector>

#include "core/compute/matmul.h"
#include "core/compute/op_profile.h"
#include "core/compute/thread_pool.h"
#include "core/error.h"

namespace moerun {

namespace {

// llama.cpp's deepseek32 loader sets the indexer LayerNorm's eps to 1e-6
// (hparams.f_norm_eps); no GGUF key carries it.
constexpr float kIndexerNormEps = 1e-6f;

}  // namespace

Ds32Indexer::Ds32Indexer(const GgufFile& f, const Binder& bind, int64_t n_layer, int64_t n_embd,
                         int64_t q_lora_rank, const RopeParams& rope)
    : rope_(rope), n_embd_(n_embd), q_lora_rank_(q_lora_rank) {
  const std::string a = f.architecture() + ".attention.indexer.";
  s_.n_head = f.get_int(a + "head_count");
  s_.head_dim = f.get_int(a + "key_length");
  s_.top_k = f.get_int(a + "top_k");
  if (s_.n_head <= 0) fail(f.path() + ": key '" + a + "head_count' must be positive (got " + std::to_string(s_.n_head) + ")");
  if (s_.top_k <= 0) fail(f.path() + ": key '" + a + "top_k' must be positive (got " + std::to_string(s_.top_k) + ")");
  const int64_t D = s_.head_dim;
  if (D <= 0 || (D & (D - 1)) != 0) {
    fail(f.path() + ": key '" + a + "key_length' = " + std::to_string(D) +
         " must be a power of two (the indexer's Hadamard rotation)");
  }
  if (rope.n_rot > D) {
    fail(f.path() + ": the rope dims (" + std::to_string(rope.n_rot) + ") exceed the indexer head size " +
         std::to_string(D));
  }
  if (q_lora_rank <= 0) {
    fail(f.path() + ": key '" + f.architecture() +
         ".attention.q_lora_rank' is missing or 0: the lightning indexer reads the q LoRA latent");
  }
  rope_.neox = true;
  layers_.resize(n_layer);
  for (int64_t l = 0; l < n_layer; ++l) {
    Ds32IndexerLayer& L = layers_[l];
    L.attn_q_b = bind.get(blk(l, "indexer.attn_q_b"), {q_lora_rank, s_.n_head * D});
    L.attn_k = bind.get(blk(l, "indexer.attn_k"), {n_embd, D});
    L.k_norm = bind.get_f32(blk(l, "indexer.k_norm"), {D});
    L.k_norm_b = bind.get_f32("blk." + std::to_string(l) + ".indexer.k_norm.bias", {D});
    L.proj = bind.get(blk(l, "indexer.proj"), {n_embd, s_.n_head});
  }
}

void Ds32Indexer::prepare(int64_t l, const Batch& batch, const float* x, const float* q_latent, float* key_rows,
                          int64_t ld) {
  OpScope op("dsa.indexer");
  const Ds32IndexerLayer& L = layers_[l];
  const int64_t B = batch.size(), H = s_.n_head, D = s_.head_dim;
  q_.resize(B * H * D);
  w_.resize(B * H);
  matmul(L.attn_q_b, q_latent, q_lora_rank_, B, q_.data(), H * D);
  matmul(L.attn_k, x, n_embd_, B, key_rows, ld);
  matmul(L.proj, x, n_embd_, B, w_.data(), H);
  // The weights' 1/sqrt(H) and the scores' 1/sqrt(D), folded into w once
  // (inference/model.py: weights * n_heads^-0.5 * softmax_scale).
  const float w_scale = 1.0f / std::sqrt(static_cast<float>(D * H));
  // Tokens over the threads; each token's (cos, sin) once for all its heads.
  parallel_for(B, [&](int64_t b) {
    thread_local std::vector<float> cs;
    cs.resize(static_cast<size_t>(rope_.n_rot));
    rope_table(batch.pos[b], rope_, cs.data());
    for (int64_t h = 0; h < H; ++h) {
      float* qh = q_.data() + (b * H + h) * D;
      rope_apply(qh, cs.data(), rope_);
      hadamard_inplace(qh, D);
      w_[b * H + h] *= w_scale;
    }
    float* k = key_rows + b * ld;
    layer_norm(k, L.k_norm, L.k_norm_b, k, D, kIndexerNormEps);
    rope_apply(k, cs.data(), rope_);
    hadamard_inplace(k, D);
  });
}

void Ds32Indexer::select(int64_t l, const Batch& batch, const KvCache& kv, int64_t key_offset,
                         KeySelection& sel) const {
  dsa_select(batch, kv, l, key_offset, s_, q_.data(), w_.data(), sel);
}

}  // namespace moerun
