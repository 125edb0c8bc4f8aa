// Dense Llama-family transformer (GGUF arch "llama"): RMSNorm, RoPE,
// grouped-query attention, SwiGLU FFN, tied or separate output.
// Mixtral-style MoE files (llama with expert_count > 0) are handed to the
// GQA MoE family (models/gqa_moe.cpp); this file is the dense path only.
#include <cmath>
#include <memory>
#include <vector>

#include "core/compute/attention.h"
#include "core/compute/matmul.h"
#include "core/compute/op_profile.h"
#include "core/compute/model.h"
#include "core/compute/thread_pool.h"
#include "core/error.h"
#include "models/binder.h"
#include "models/blocks.h"
#include "models/hparams.h"
#include "simd/float_ops.h"

namespace moerun {

namespace {

struct LlamaLayer {
  const float* attn_norm;  // [n_embd]
  TensorView wq;           // [n_embd] -> [n_head * key_length]
  TensorView wk;           // [n_embd] -> [n_head_kv * key_length]
  TensorView wv;           // [n_embd] -> [n_head_kv * value_length]
  TensorView wo;           // [n_head * value_length] -> [n_embd]
  const float* ffn_norm;   // [n_embd]
  TensorView ffn_gate;     // [n_embd] -> [n_ff]
  TensorView ffn_up;       // [n_embd] -> [n_ff]
  TensorView ffn_down;     // [n_ff] -> [n_embd]
};

class Llama final : public Model {
 public:
  explicit Llama(const GgufFile& f);
  const ModelInfo& info() const override { return info_; }
  KvLayout kv_layout() const override {
    return {hp_.block_count, hp_.head_count_kv * hp_.key_length, hp_.head_count_kv * hp_.value_length};
  }
  void forward(const Batch& batch, KvCache& kv, float* logits) override;

 private:
  CommonHparams hp_;
  ModelInfo info_;
  TensorView tok_embd_;      // [n_embd, n_vocab]
  const float* out_norm_;    // [n_embd]
  TensorView output_;        // [n_embd, n_vocab] (token_embd when tied)
  const float* rope_freqs_;  // [n_rot/2] optional (Llama 3.1 long-context factors)
  std::vector<LlamaLayer> layers_;
  // Activations, resized per batch: x, norm, q, k, v, attn, ffn gate/up.
  std::vector<float> x_, h_, q_, k_, v_, att_, g_, u_, tmp_;
};

Llama::Llama(const GgufFile& f) {
  const std::string a = f.architecture() + ".";
  const GgufTensor* te = f.find_tensor("token_embd.weight");
  if (te == nullptr) fail(f.path() + ": required tensor 'token_embd.weight' is missing");
  hp_ = read_common_hparams(f, te->ne[1]);
  if (hp_.feed_forward_length <= 0) fail(f.path() + ": key '" + a + "feed_forward_length' must be positive");

  const int64_t E = hp_.embedding_length, V = hp_.n_vocab, F = hp_.feed_forward_length;
  const int64_t qd = hp_.head_count * hp_.key_length;
  const int64_t kd = hp_.head_count_kv * hp_.key_length;
  const int64_t vd = hp_.head_count_kv * hp_.value_length;
  const int64_t od = hp_.head_count * hp_.value_length;

  Binder bind(f);
  tok_embd_ = bind.get("token_embd.weight", {E, V});
  out_norm_ = bind.get_f32("output_norm.weight", {E});
  output_ = bind.get_optional("output.weight", {E, V});
  if (!output_.valid()) output_ = tok_embd_;  // tied embeddings
  rope_freqs_ = bind.get_f32_optional("rope_freqs.weight", {hp_.rope.n_rot / 2});
  hp_.rope.freq_factors = rope_freqs_;
  hp_.rope.neox = false;  // llama's converter permutes Q/K for adjacent-pair RoPE

  layers_.resize(hp_.block_count);
  for (int64_t l = 0; l < hp_.block_count; ++l) {
    LlamaLayer& L = layers_[l];
    L.attn_norm = bind.get_f32(blk(l, "attn_norm"), {E});
    L.wq = bind.get(blk(l, "attn_q"), {E, qd});
    L.wk = bind.get(blk(l, "attn_k"), {E, kd});
    L.wv = bind.get(blk(l, "attn_v"), {E, vd});
    L.wo = bind.get(blk(l, "attn_output"), {od, E});
    L.ffn_norm = bind.get_f32(blk(l, "ffn_norm"), {E});
    L.ffn_gate = bind.get(blk(l, "ffn_gate"), {E, F});
    L.ffn_up = bind.get(blk(l, "ffn_up"), {E, F});
    L.ffn_down = bind.get(blk(l, "ffn_down"), {F, E});
  }

  info_.arch = hp_.arch;
  info_.name = f.get_string("general.name", "");
  info_.n_vocab = V;
  info_.n_ctx_train = hp_.context_length;
  info_.n_embd = E;
  info_.n_layer = hp_.block_count;
  info_.n_params = bind.n_params();
  // Per token: every weight but the embedding table (one row is read).
  info_.n_params_active = bind.n_params() - (output_.data == tok_embd_.data ? 0 : E * V);
  info_.bytes_active = bind.n_bytes() - (output_.data == tok_embd_.data ? 0 : tok_embd_.row_bytes * V);
}

void Llama::forward(const Batch& batch, KvCache& kv, float* logits) {
  const int64_t B = batch.size();
  const int64_t E = hp_.embedding_length, F = hp_.feed_forward_length;
  const int64_t hk = hp_.key_length, hv = hp_.value_length;
  const int64_t qd = hp_.head_count * hk, kd = hp_.head_count_kv * hk;
  const int64_t vd = hp_.head_count_kv * hv, od = hp_.head_count * hv;
  x_.resize(B * E);
  h_.resize(B * E);
  q_.resize(B * qd);
  k_.resize(B * kd);
  v_.resize(B * vd);
  att_.resize(B * od);
  g_.resize(B * F);
  u_.resize(B * F);
  tmp_.resize(B * std::max(E, F));

  embed_tokens(tok_embd_, batch, x_.data());

  const GqaShape shape{hp_.head_count, hp_.head_count_kv, hk, hv, 1.0f / std::sqrt(static_cast<float>(hk))};
  for (int64_t l = 0; l < hp_.block_count; ++l) {
    const LlamaLayer& L = layers_[l];
    {
      OpScope op("attn.qkv");
      rms_norm_rows(x_.data(), L.attn_norm, h_.data(), B, E, hp_.layer_norm_rms_epsilon);
      const MatmulOut qkv[3] = {{&L.wq, q_.data(), qd}, {&L.wk, k_.data(), kd}, {&L.wv, v_.data(), vd}};
      matmul_many(qkv, 3, h_.data(), E, B);
      // Tokens over the threads; each token's (cos, sin) once for all its heads.
      parallel_for(B, [&](int64_t b) {
        thread_local std::vector<float> cs;
        cs.resize(static_cast<size_t>(hp_.rope.n_rot));
        rope_table(batch.pos[b], hp_.rope, cs.data());
        for (int64_t hh = 0; hh < hp_.head_count; ++hh) rope_apply(q_.data() + b * qd + hh * hk, cs.data(), hp_.rope);
        for (int64_t hh = 0; hh < hp_.head_count_kv; ++hh) rope_apply(k_.data() + b * kd + hh * hk, cs.data(), hp_.rope);
      });
      kv_store(batch, kv, l, k_.data(), v_.data());
    }
    gqa_attention(batch, kv, l, shape, q_.data(), att_.data());  // timed as "attention"
    {
      OpScope op("attn.out");
      matmul(L.wo, att_.data(), od, B, tmp_.data(), E);
      add_inplace(x_.data(), tmp_.data(), B * E);
    }

    OpScope op("ffn");
    rms_norm_rows(x_.data(), L.ffn_norm, h_.data(), B, E, hp_.layer_norm_rms_epsilon);
    matmul2(L.ffn_gate, g_.data(), F, L.ffn_up, u_.data(), F, h_.data(), E, B);
    silu_mul(g_.data(), u_.data(), g_.data(), B * F);
    matmul(L.ffn_down, g_.data(), F, B, tmp_.data(), E);
    add_inplace(x_.data(), tmp_.data(), B * E);
  }

  OpScope op("output");
  output_logits(batch, x_.data(), out_norm_, hp_.layer_norm_rms_epsilon, output_, h_.data(), logits);
}

}  // namespace

std::unique_ptr<Model> make_llama_moe(const GgufFile& f);  // models/gqa_moe.cpp

std::unique_ptr<Model> make_llama(const GgufFile& f) {
  if (f.get_int(f.architecture() + ".expert_count", 0) > 0) return make_llama_moe(f);
  return std::make_unique<Llama>(f);
}

}  // namespace moerun
