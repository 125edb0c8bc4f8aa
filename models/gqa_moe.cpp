// Grouped-query attention + routed-MoE transformers: GGUF archs "qwen3moe"
// (Qwen3-MoE), "qwen2moe" (Qwen1.5/Qwen2-MoE) and Mixtral-style "llama"
// files with expert_count > 0 (models/llama.cpp hands those over here, so
// the dense Llama path stays as it is).
//
// The block: RMSNorm -> q/k/v (+ biases if present) -> [Qwen3: RMSNorm of
// each q and k head] -> RoPE -> GQA -> output; RMSNorm -> router -> top-k
// experts (core/compute/moe: only the chosen experts are computed) [+ qwen2moe's
// shared expert scaled by sigmoid(w · x)]. What differs per architecture is
// data, in kArchs below; the conventions follow llama.cpp's
// src/models/{qwen3moe,qwen2moe,llama}.cpp.
#include <cmath>
#include <memory>
#include <string_view>
#include <vector>

#include "core/compute/attention.h"
#include "core/compute/ffn.h"
#include "core/compute/matmul.h"
#include "core/compute/model.h"
#include "core/compute/moe.h"
#include "core/compute/op_profile.h"
#include "core/compute/thread_pool.h"
#include "core/error.h"
#include "models/binder.h"
#include "models/blocks.h"
#include "models/hparams.h"
#include "simd/float_ops.h"

namespace moerun {

namespace {

struct GqaMoeArch {
  std::string_view name;
  bool neox;              // RoPE pairs (x[i], x[i + n_rot/2]) instead of adjacent pairs
  bool qk_norm;           // per-head RMSNorm of q and k (attn_q_norm / attn_k_norm)
  bool norm_weights;      // renormalise the top-k softmax weights to sum 1
  bool shared_expert;     // sigmoid-gated shared expert (ffn_*_shexp + ffn_gate_inp_shexp)
  bool expert_ff_key;     // expert width from expert_feed_forward_length (else feed_forward_length)
};

// llama.cpp passes norm_w = true to build_moe_ffn for qwen3moe and llama, and
// false for qwen2moe; none of the three reads expert_weights_scale.
constexpr GqaMoeArch kArchs[] = {
    {"qwen3moe", true, true, true, false, true},
    {"qwen2moe", true, false, false, true, true},
    {"llama", false, false, true, false, false},
};

struct GqaMoeLayer {
  const float* attn_norm;   // [E]
  TensorView wq;            // [E, H*hd]
  TensorView wk;            // [E, Hkv*hd]
  TensorView wv;            // [E, Hkv*hd]
  const float* bq;          // [H*hd] or null
  const float* bk;          // [Hkv*hd] or null
  const float* bv;          // [Hkv*hd] or null
  const float* q_norm;      // [hd] (Qwen3)
  const float* k_norm;      // [hd] (Qwen3)
  TensorView wo;            // [H*hd, E]
  const float* ffn_norm;    // [E]
  TensorView gate_inp;      // [E, n_expert] router
  ExpertTensors experts;    // [E, F, n_expert] gate/up, [F, E, n_expert] down
  const float* shexp_gate_inp;  // [E] shared expert's gate (qwen2moe)
  TensorView shexp_gate, shexp_up, shexp_down;
};

class GqaMoe final : public Model {
 public:
  GqaMoe(const GgufFile& f, const GqaMoeArch& arch);
  const ModelInfo& info() const override { return info_; }
  KvLayout kv_layout() const override {
    return {hp_.block_count, hp_.head_count_kv * hp_.key_length, hp_.head_count_kv * hp_.value_length};
  }
  void forward(const Batch& batch, KvCache& kv, float* logits) override;
  MoeStats* moe_stats() override { return &stats_; }

 private:
  void attention(const GqaMoeLayer& L, int64_t l, const Batch& batch, KvCache& kv);
  void ffn(const GqaMoeLayer& L, int64_t l, int64_t B);

  CommonHparams hp_;
  RouterConfig router_;
  int64_t expert_ff_ = 0;
  ModelInfo info_;
  TensorView tok_embd_;       // [E, n_vocab]
  const float* out_norm_ = nullptr;
  TensorView output_;         // [E, n_vocab] (token_embd when tied)
  std::vector<GqaMoeLayer> layers_;
  MoeStats stats_;
  // Activations, resized per batch.
  std::vector<float> x_, h_, q_, k_, v_, att_, tmp_, rl_, rw_;
  std::vector<int32_t> ri_;
  FfnScratch ffn_;
  MoeScratch moe_;
};

GqaMoe::GqaMoe(const GgufFile& f, const GqaMoeArch& arch) {
  const std::string a = f.architecture() + ".";
  const GgufTensor* te = f.find_tensor("token_embd.weight");
  if (te == nullptr) fail(f.path() + ": required tensor 'token_embd.weight' is missing");
  hp_ = read_common_hparams(f, te->ne[1]);
  const int64_t E = hp_.embedding_length, V = hp_.n_vocab, H = hp_.head_count, Hkv = hp_.head_count_kv;
  const int64_t hd = hp_.key_length;
  // llama.cpp asserts both for these archs: one head size, fully rotated.
  if (hp_.value_length != hd || hp_.rope.n_rot != hd) {
    fail(f.path() + ": " + a + "attention.key_length " + std::to_string(hd) + ", value_length " +
         std::to_string(hp_.value_length) + " and rope.dimension_count " + std::to_string(hp_.rope.n_rot) +
         " must be equal");
  }

  const int64_t NE = f.get_int(a + "expert_count", 0);
  const int64_t k = f.get_int(a + "expert_used_count", 0);
  if (NE <= 0 || k <= 0) {
    fail(f.path() + ": " + a + "expert_count (" + std::to_string(NE) + ") and " + a + "expert_used_count (" +
         std::to_string(k) + ") must be positive");
  }
  if (k > NE) {
    fail(f.path() + ": " + a + "expert_used_count " + std::to_string(k) + " exceeds expert_count " +
         std::to_string(NE));
  }
  router_.n_expert = NE;
  router_.n_expert_used = k;
  router_.gating = Gating::kSoftmax;
  router_.norm_weights = arch.norm_weights;
  // Expert width: expert_feed_forward_length, else (Qwen) feed_forward_length
  // / top-k as llama.cpp falls back, or (Mixtral) feed_forward_length.
  const int64_t ff = hp_.feed_forward_length;
  expert_ff_ = arch.expert_ff_key ? f.get_int(a + "expert_feed_forward_length", ff / k) : ff;
  if (expert_ff_ <= 0) fail(f.path() + ": the expert width (" + a + "expert_feed_forward_length) must be positive");
  const int64_t Fs = f.get_int(a + "expert_shared_feed_forward_length", ff);
  if (arch.shared_expert && Fs <= 0) {
    fail(f.path() + ": " + a + "expert_shared_feed_forward_length must be positive");
  }

  Binder bind(f);
  tok_embd_ = bind.get("token_embd.weight", {E, V});
  out_norm_ = bind.get_f32("output_norm.weight", {E});
  output_ = bind.get_optional("output.weight", {E, V});
  if (!output_.valid()) output_ = tok_embd_;  // tied embeddings
  hp_.rope.neox = arch.neox;
  hp_.rope.freq_factors = bind.get_f32_optional("rope_freqs.weight", {hp_.rope.n_rot / 2});

  const int64_t F = expert_ff_;
  uint64_t unchosen_bytes = 0;  // per token: the experts top-k leaves out, all layers
  int64_t unchosen_params = 0;
  layers_.resize(hp_.block_count);
  for (int64_t l = 0; l < hp_.block_count; ++l) {
    GqaMoeLayer& L = layers_[l];
    const std::string b = "blk." + std::to_string(l) + ".";
    L.attn_norm = bind.get_f32(blk(l, "attn_norm"), {E});
    L.wq = bind.get(blk(l, "attn_q"), {E, H * hd});
    L.wk = bind.get(blk(l, "attn_k"), {E, Hkv * hd});
    L.wv = bind.get(blk(l, "attn_v"), {E, Hkv * hd});
    L.bq = bind.get_f32_optional(b + "attn_q.bias", {H * hd});
    L.bk = bind.get_f32_optional(b + "attn_k.bias", {Hkv * hd});
    L.bv = bind.get_f32_optional(b + "attn_v.bias", {Hkv * hd});
    L.q_norm = arch.qk_norm ? bind.get_f32(blk(l, "attn_q_norm"), {hd}) : nullptr;
    L.k_norm = arch.qk_norm ? bind.get_f32(blk(l, "attn_k_norm"), {hd}) : nullptr;
    L.wo = bind.get(blk(l, "attn_output"), {H * hd, E});
    L.ffn_norm = bind.get_f32(blk(l, "ffn_norm"), {E});
    L.gate_inp = bind.get(blk(l, "ffn_gate_inp"), {E, NE});
    L.experts.gate = bind.get(blk(l, "ffn_gate_exps"), {E, F, NE});
    L.experts.up = bind.get(blk(l, "ffn_up_exps"), {E, F, NE});
    L.experts.down = bind.get(blk(l, "ffn_down_exps"), {F, E, NE});
    const uint64_t per_expert =
        L.experts.gate.row_bytes * F + L.experts.up.row_bytes * F + L.experts.down.row_bytes * E;
    unchosen_bytes += per_expert * static_cast<uint64_t>(NE - k);
    unchosen_params += 3 * E * F * (NE - k);
    L.shexp_gate_inp = nullptr;
    if (arch.shared_expert) {
      L.shexp_gate_inp = bind.get_f32(blk(l, "ffn_gate_inp_shexp"), {E});
      L.shexp_gate = bind.get(blk(l, "ffn_gate_shexp"), {E, Fs});
      L.shexp_up = bind.get(blk(l, "ffn_up_shexp"), {E, Fs});
      L.shexp_down = bind.get(blk(l, "ffn_down_shexp"), {Fs, E});
    }
  }

  info_.arch = hp_.arch;
  info_.name = f.get_string("general.name", "");
  info_.n_vocab = V;
  info_.n_ctx_train = hp_.context_length;
  info_.n_embd = E;
  info_.n_layer = hp_.block_count;
  info_.n_expert = NE;
  info_.n_expert_used = k;
  info_.n_expert_shared = arch.shared_expert ? 1 : 0;
  info_.n_params = bind.n_params();
  // Per token: everything but the unchosen experts and the embedding table
  // (one row is read).
  const bool tied = output_.data == tok_embd_.data;
  info_.n_params_active = bind.n_params() - unchosen_params - (tied ? 0 : E * V);
  info_.bytes_active = bind.n_bytes() - unchosen_bytes - (tied ? 0 : tok_embd_.row_bytes * V);
}

void GqaMoe::attention(const GqaMoeLayer& L, int64_t l, const Batch& batch, KvCache& kv) {
  const int64_t B = batch.size();
  const int64_t E = hp_.embedding_length, H = hp_.head_count, Hkv = hp_.head_count_kv, hd = hp_.key_length;
  const int64_t qd = H * hd, kd = Hkv * hd;
  const float eps = hp_.layer_norm_rms_epsilon;
  q_.resize(B * qd);
  k_.resize(B * kd);
  v_.resize(B * kd);
  att_.resize(B * qd);
  const MatmulOut qkv[3] = {{&L.wq, q_.data(), qd}, {&L.wk, k_.data(), kd}, {&L.wv, v_.data(), kd}};
  matmul_many(qkv, 3, h_.data(), E, B);
  // Tokens over the threads; each token's (cos, sin) once for all its heads.
  parallel_for(B, [&](int64_t b) {
    thread_local std::vector<float> cs;
    cs.resize(static_cast<size_t>(hp_.rope.n_rot));
    rope_table(batch.pos[b], hp_.rope, cs.data());
    float* q = q_.data() + b * qd;
    float* k = k_.data() + b * kd;
    if (L.bq) add_inplace(q, L.bq, qd);
    if (L.bk) add_inplace(k, L.bk, kd);
    if (L.bv) add_inplace(v_.data() + b * kd, L.bv, kd);
    for (int64_t h = 0; h < H; ++h) {
      if (L.q_norm) rms_norm(q + h * hd, L.q_norm, q + h * hd, hd, eps);
      rope_apply(q + h * hd, cs.data(), hp_.rope);
    }
    for (int64_t h = 0; h < Hkv; ++h) {
      if (L.k_norm) rms_norm(k + h * hd, L.k_norm, k + h * hd, hd, eps);
      rope_apply(k + h * hd, cs.data(), hp_.rope);
    }
  });
  kv_store(batch, kv, l, k_.data(), v_.data());
  const GqaShape shape{H, Hkv, hd, hd, 1.0f / std::sqrt(static_cast<float>(hd))};
  gqa_attention(batch, kv, l, shape, q_.data(), att_.data());
  matmul(L.wo, att_.data(), qd, B, tmp_.data(), E);
  add_inplace(x_.data(), tmp_.data(), B * E);
}

void GqaMoe::ffn(const GqaMoeLayer& L, int64_t l, int64_t B) {
  const int64_t E = hp_.embedding_length, NE = router_.n_expert, k = router_.n_expert_used;
  rl_.resize(B * NE);
  ri_.resize(B * k);
  rw_.resize(B * k);
  matmul(L.gate_inp, h_.data(), E, B, rl_.data(), NE);
  route(router_, rl_.data(), B, ri_.data(), rw_.data());
  if (L.shexp_gate_inp != nullptr) {
    swiglu_ffn(L.shexp_gate, L.shexp_up, L.shexp_down, h_.data(), B, tmp_.data(), ffn_);
    for (int64_t b = 0; b < B; ++b) {
      const float g = dot_f32(L.shexp_gate_inp, h_.data() + b * E, E);
      const float s = 1.0f / (1.0f + std::exp(-g));
      for (int64_t i = 0; i < E; ++i) tmp_[b * E + i] *= s;
    }
  } else {
    std::fill(tmp_.begin(), tmp_.begin() + B * E, 0.0f);
  }
  stats_.layer = static_cast<int32_t>(l);
  moe_ffn(L.experts, h_.data(), B, ri_.data(), rw_.data(), k, tmp_.data(), moe_, &stats_);
  add_inplace(x_.data(), tmp_.data(), B * E);
}

void GqaMoe::forward(const Batch& batch, KvCache& kv, float* logits) {
  const int64_t B = batch.size();
  const int64_t E = hp_.embedding_length;
  const float eps = hp_.layer_norm_rms_epsilon;
  x_.resize(B * E);
  h_.resize(B * E);
  tmp_.resize(B * E);
  embed_tokens(tok_embd_, batch, x_.data());
  stats_.clear();
  for (int64_t l = 0; l < hp_.block_count; ++l) {
    const GqaMoeLayer& L = layers_[l];
    {
      OpScope op("attn");
      rms_norm_rows(x_.data(), L.attn_norm, h_.data(), B, E, eps);
      attention(L, l, batch, kv);
    }
    OpScope op("moe");
    rms_norm_rows(x_.data(), L.ffn_norm, h_.data(), B, E, eps);
    ffn(L, l, B);
  }
  OpScope op("output");
  output_logits(batch, x_.data(), out_norm_, eps, output_, h_.data(), logits);
}

std::unique_ptr<Model> make_gqa_moe_arch(const GgufFile& f, std::string_view name) {
  for (const GqaMoeArch& a : kArchs) {
    if (a.name == name) return std::make_unique<GqaMoe>(f, a);
  }
  fail(f.path() + ": no GQA MoE variant for architecture '" + std::string(name) + "'");
}

}  // namespace

std::unique_ptr<Model> make_qwen3moe(const GgufFile& f) { return make_gqa_moe_arch(f, "qwen3moe"); }
std::unique_ptr<Model> make_qwen2moe(const GgufFile& f) { return make_gqa_moe_arch(f, "qwen2moe"); }
// Mixtral-style llama files (expert_count > 0); called by make_llama.
std::unique_ptr<Model> make_llama_moe(const GgufFile& f) { return make_gqa_moe_arch(f, "llama"); }

}  // namespace moerun
