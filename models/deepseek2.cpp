// DeepSeek-V2/V3 family (GGUF arch "deepseek2": V2, V2-Lite, V2.5, V3, V3.1,
// R1, Kimi-K2): multi-head latent attention (MLA) and a routed MoE FFN. Also
// DeepSeek-V3.2 (arch "deepseek32"): the same model, whose attention keeps
// only the keys its lightning indexer picks (DSA, models/deepseek32.h).
//
// MLA, absorbed form (DeepSeek-V2 paper §2.1, llama.cpp src/models/deepseek2.cpp):
// the cache holds, per token and layer, the normed compressed latent c_kv
// (kv_lora_rank) and the roped shared key k_pe (rope dims). A query head is
// turned into latent space once (q_abs = W_kb[h] · q_nope), scores are
// q_abs·c_kv + q_pe·k_pe, the weighted latent goes back through W_vb[h].
// Files with the older fused attn_kv_b are split into W_kb/W_vb at load.
#include <cmath>
#include <memory>
#include <vector>

#include "core/compute/attention.h"
#include "core/compute/ffn.h"
#include "core/compute/matmul.h"
#include "core/compute/mla.h"
#include "core/compute/model.h"
#include "core/compute/moe.h"
#include "core/compute/op_profile.h"
#include "core/compute/thread_pool.h"
#include "core/error.h"
#include "models/binder.h"
#include "models/blocks.h"
#include "models/deepseek32.h"
#include "models/hparams.h"
#include "simd/float_ops.h"

namespace moerun {

namespace {

struct Ds2Hparams {
  int64_t n_layer = 0;              // block_count - nextn_predict_layers
  int64_t leading_dense_block_count = 0;
  int64_t q_lora_rank = 0;          // 0: no q LoRA (V2-Lite)
  int64_t kv_lora_rank = 0;
  int64_t head_k = 0;               // key_length_mla: qk_nope + qk_rope
  int64_t head_v = 0;               // value_length_mla
  int64_t qk_nope = 0;
  int64_t qk_rope = 0;              // rope.dimension_count
  int64_t expert_count = 0;
  int64_t expert_used_count = 0;
  int64_t expert_shared_count = 0;
  int64_t expert_feed_forward_length = 0;
  RouterConfig router;
  float kq_scale = 0;
};

struct Ds2Layer {
  const float* attn_norm;       // [E]
  TensorView wq;                // [E, H*head_k] (no q LoRA)
  TensorView wq_a;              // [E, q_lora]
  const float* q_a_norm;        // [q_lora]
  TensorView wq_b;              // [q_lora, H*head_k]
  TensorView wkv_a;             // [E, kv_lora + rope]
  const float* kv_a_norm;       // [kv_lora]
  TensorView wk_b;              // [qk_nope, kv_lora, H]: per head, kv_lora rows of qk_nope
  TensorView wv_b;              // [kv_lora, head_v, H]: per head, head_v rows of kv_lora
  TensorView wo;                // [H*head_v, E]
  const float* ffn_norm;        // [E]
  // dense layers
  TensorView ffn_gate, ffn_up, ffn_down;
  // MoE layers
  TensorView gate_inp;          // [E, n_expert] router
  const float* exp_probs_b;     // [n_expert] selection bias (V3), may be null
  ExpertTensors experts;
  TensorView shexp_gate, shexp_up, shexp_down;  // shared experts, may be absent
  bool moe = false;
};

class DeepSeek2 final : public Model {
 public:
  explicit DeepSeek2(const GgufFile& f);
  const ModelInfo& info() const override { return info_; }
  // A cache row is [c_kv (kv_lora_rank), k_pe (rope)], then for DSA the
  // indexer key (indexer head_dim).
  KvLayout kv_layout() const override { return {ds_.n_layer, mla_row() + indexer_key_dim(), 0}; }
  void forward(const Batch& batch, KvCache& kv, float* logits) override;
  MoeStats* moe_stats() override { return &stats_; }
  bool set_option(const std::string& name, bool on) override {
    if (name == "naive_mla") {
      naive_mla_ = on;
      return true;
    }
    if (name == "dense_attention" && dsa_) {  // every earlier key, as without DSA (tests)
      dense_dsa_ = on;
      return true;
    }
    return false;
  }

 private:
  void attention(const Ds2Layer& L, int64_t l, const Batch& batch, KvCache& kv);
  void split_kv_b(const Binder& bind, const GgufFile& f, int64_t l, Ds2Layer& L);
  float ds32_yarn(const GgufFile& f);
  int64_t mla_row() const { return ds_.kv_lora_rank + ds_.qk_rope; }
  int64_t indexer_key_dim() const { return dsa_ ? indexer_.shape().head_dim : 0; }

  CommonHparams hp_;
  Ds2Hparams ds_;
  ModelInfo info_;
  TensorView tok_embd_;
  const float* out_norm_ = nullptr;
  TensorView output_;
  std::vector<Ds2Layer> layers_;
  std::vector<std::vector<float>> owned_;  // W_kb/W_vb split out of a fused attn_kv_b
  MoeStats stats_;
  bool naive_mla_ = false;  // decompressed reference path (tests)
  bool dsa_ = false;        // deepseek32: DSA's top-k keys per query
  bool dense_dsa_ = false;  // deepseek32 with every key (tests)
  Ds32Indexer indexer_;
  KeySelection sel_;
  // Activations, resized per batch.
  std::vector<float> x_, h_, q_, qa_, kva_, qabs_, lat_, o_, tmp_, rl_, rw_;
  std::vector<int32_t> ri_;
  FfnScratch ffn_;
  MoeScratch moe_;
};

DeepSeek2::DeepSeek2(const GgufFile& f) {
  const std::string a = f.architecture() + ".";
  const GgufTensor* te = f.find_tensor("token_embd.weight");
  if (te == nullptr) fail(f.path() + ": required tensor 'token_embd.weight' is missing");
  hp_ = read_common_hparams(f, te->ne[1]);
  const int64_t E = hp_.embedding_length, H = hp_.head_count, V = hp_.n_vocab;

  const int64_t nextn = f.get_int(a + "nextn_predict_layers", 0);
  if (nextn < 0 || nextn >= hp_.block_count) fail(f.path() + ": key '" + a + "nextn_predict_layers' is out of range");
  ds_.n_layer = hp_.block_count - nextn;  // trailing MTP blocks are not part of the forward pass
  ds_.leading_dense_block_count = f.get_int(a + "leading_dense_block_count", 0);
  ds_.q_lora_rank = f.get_int(a + "attention.q_lora_rank", 0);
  ds_.kv_lora_rank = f.get_int(a + "attention.kv_lora_rank");
  ds_.qk_rope = hp_.rope.n_rot;
  const bool split = f.has(a + "attention.key_length_mla");
  ds_.head_k = split ? f.get_int(a + "attention.key_length_mla") : hp_.key_length;
  ds_.head_v = split ? f.get_int(a + "attention.value_length_mla") : hp_.value_length;
  ds_.qk_nope = ds_.head_k - ds_.qk_rope;
  if (ds_.kv_lora_rank <= 0 || ds_.qk_nope <= 0 || ds_.head_v <= 0) {
    fail(f.path() + ": inconsistent MLA sizes (kv_lora_rank " + std::to_string(ds_.kv_lora_rank) + ", key length " +
         std::to_string(ds_.head_k) + ", rope dims " + std::to_string(ds_.qk_rope) + ", value length " +
         std::to_string(ds_.head_v) + ")");
  }
  if (ds_.leading_dense_block_count < 0 || ds_.leading_dense_block_count > ds_.n_layer) {
    fail(f.path() + ": key '" + a + "leading_dense_block_count' is out of range");
  }
  const bool any_moe = ds_.leading_dense_block_count < ds_.n_layer;
  if (any_moe) {
    ds_.expert_count = f.get_int(a + "expert_count");
    ds_.expert_used_count = f.get_int(a + "expert_used_count");
    ds_.expert_shared_count = f.get_int(a + "expert_shared_count", 0);
    ds_.expert_feed_forward_length = f.get_int(a + "expert_feed_forward_length");
    if (ds_.expert_count <= 0 || ds_.expert_used_count <= 0 || ds_.expert_feed_forward_length <= 0 ||
        ds_.expert_shared_count < 0) {
      fail(f.path() + ": expert_count, expert_used_count and expert_feed_forward_length must be positive");
    }
    if (ds_.expert_used_count > ds_.expert_count) {
      fail(f.path() + ": expert_used_count " + std::to_string(ds_.expert_used_count) + " exceeds expert_count " +
           std::to_string(ds_.expert_count));
    }
    RouterConfig& r = ds_.router;
    r.n_expert = ds_.expert_count;
    r.n_expert_used = ds_.expert_used_count;
    r.n_group = f.get_int(a + "expert_group_count", 1);
    r.n_group_used = f.get_int(a + "expert_group_used_count", r.n_group);
    if (r.n_group <= 0) r.n_group = 1;
    if (r.n_group > 1 && (r.n_expert % r.n_group != 0 || r.n_group_used <= 0 || r.n_group_used > r.n_group ||
                          r.n_group_used * (r.n_expert / r.n_group) < r.n_expert_used)) {
      fail(f.path() + ": expert groups do not fit: " + std::to_string(r.n_expert) + " experts in " +
           std::to_string(r.n_group) + " groups, " + std::to_string(r.n_group_used) + " used, top-" +
           std::to_string(r.n_expert_used));
    }
    // expert_gating_func: 1 softmax, 2 sigmoid (llama.cpp's enum); absent
    // means softmax, as in V2/V2.5 files written before the key existed.
    const int64_t gating = f.get_int(a + "expert_gating_func", 1);
    if (gating != 1 && gating != 2) fail(f.path() + ": unsupported expert_gating_func " + std::to_string(gating));
    r.gating = gating == 2 ? Gating::kSigmoid : Gating::kSoftmax;
    r.norm_weights = f.get_bool(a + "expert_weights_norm", false);
    r.weights_scale = static_cast<float>(f.get_float(a + "expert_weights_scale", 0.0));
  }

  // YaRN (V2/V3 long context): llama.cpp stores 0.1 * mscale_all_dim in
  // rope.scaling.yarn_log_multiplier; DeepSeek takes mscale = mscale_all_dim,
  // so the rope keeps unit magnitude and the attention scale carries
  // (1 + 0.1 * m * ln(factor))^2 (llama.cpp TAG_DEEPSEEK2_YARN_LOG_MUL_FIX).
  float kq_mscale = 1.0f;
  if (hp_.rope.ext_factor != 0.0f) {
    const float factor = 1.0f / hp_.rope.freq_scale;
    const float log_mul = static_cast<float>(f.get_float(a + "rope.scaling.yarn_log_multiplier", 0.0)) / 0.1f;
    hp_.rope.attn_factor = 1.0f / (1.0f + 0.1f * std::log(factor));
    if (log_mul != 0.0f && factor > 1.0f) kq_mscale = 1.0f + 0.1f * log_mul * std::log(factor);
  }
  hp_.rope.attn_factor *= static_cast<float>(f.get_float(a + "rope.scaling.attn_factor", 1.0));
  dsa_ = hp_.arch == "deepseek32";
  if (dsa_) kq_mscale = ds32_yarn(f);
  ds_.kq_scale = kq_mscale * kq_mscale / std::sqrt(static_cast<float>(ds_.head_k));
  hp_.rope.neox = false;  // deepseek2 uses ggml's normal (adjacent-pair) RoPE

  Binder bind(f);
  if (dsa_) indexer_ = Ds32Indexer(f, bind, ds_.n_layer, E, ds_.q_lora_rank, hp_.rope);
  tok_embd_ = bind.get("token_embd.weight", {E, V});
  out_norm_ = bind.get_f32("output_norm.weight", {E});
  output_ = bind.get_optional("output.weight", {E, V});
  if (!output_.valid()) output_ = tok_embd_;

  const int64_t kvl = ds_.kv_lora_rank, rope = ds_.qk_rope;
  const int64_t Fe = ds_.expert_feed_forward_length, NE = ds_.expert_count;
  uint64_t routed_bytes_per_layer_expert = 0;
  int64_t routed_params_per_layer_expert = 0;
  layers_.resize(ds_.n_layer);
  for (int64_t l = 0; l < ds_.n_layer; ++l) {
    Ds2Layer& L = layers_[l];
    L.attn_norm = bind.get_f32(blk(l, "attn_norm"), {E});
    if (ds_.q_lora_rank > 0) {
      L.wq_a = bind.get(blk(l, "attn_q_a"), {E, ds_.q_lora_rank});
      L.q_a_norm = bind.get_f32(blk(l, "attn_q_a_norm"), {ds_.q_lora_rank});
      L.wq_b = bind.get(blk(l, "attn_q_b"), {ds_.q_lora_rank, H * ds_.head_k});
    } else {
      L.wq = bind.get(blk(l, "attn_q"), {E, H * ds_.head_k});
    }
    L.wkv_a = bind.get(blk(l, "attn_kv_a_mqa"), {E, kvl + rope});
    L.kv_a_norm = bind.get_f32(blk(l, "attn_kv_a_norm"), {kvl});
    if (split) {
      L.wk_b = bind.get(blk(l, "attn_k_b"), {ds_.qk_nope, kvl, H});
      L.wv_b = bind.get(blk(l, "attn_v_b"), {kvl, ds_.head_v, H});
    } else {
      split_kv_b(bind, f, l, L);
    }
    L.wo = bind.get(blk(l, "attn_output"), {H * ds_.head_v, E});
    L.ffn_norm = bind.get_f32(blk(l, "ffn_norm"), {E});
    if (l < ds_.leading_dense_block_count) {
      const int64_t F = hp_.feed_forward_length;
      if (F <= 0) fail(f.path() + ": key '" + a + "feed_forward_length' must be positive for dense blocks");
      L.ffn_gate = bind.get(blk(l, "ffn_gate"), {E, F});
      L.ffn_up = bind.get(blk(l, "ffn_up"), {E, F});
      L.ffn_down = bind.get(blk(l, "ffn_down"), {F, E});
      continue;
    }
    L.moe = true;
    L.gate_inp = bind.get(blk(l, "ffn_gate_inp"), {E, NE});
    const std::string bias_name = "blk." + std::to_string(l) + ".exp_probs_b.bias";
    L.exp_probs_b = bind.get_f32_optional(bias_name, {NE});
    if (ds_.router.gating == Gating::kSigmoid && L.exp_probs_b == nullptr) {
      fail(f.path() + ": sigmoid routing (expert_gating_func 2) needs tensor '" + bias_name + "', which is missing");
    }
    const TensorView gate_up = bind.get_optional(blk(l, "ffn_gate_up_exps"), {E, 2 * Fe, NE});
    if (gate_up.valid()) {
      split_gate_up(gate_up, L.experts.gate, L.experts.up);
    } else {
      L.experts.gate = bind.get(blk(l, "ffn_gate_exps"), {E, Fe, NE});
      L.experts.up = bind.get(blk(l, "ffn_up_exps"), {E, Fe, NE});
    }
    L.experts.down = bind.get(blk(l, "ffn_down_exps"), {Fe, E, NE});
    routed_bytes_per_layer_expert += (L.experts.gate.row_bytes * Fe + L.experts.up.row_bytes * Fe +
                                      L.experts.down.row_bytes * E);
    routed_params_per_layer_expert += 3 * E * Fe;
    if (ds_.expert_shared_count > 0) {
      const int64_t Fs = Fe * ds_.expert_shared_count;
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
  info_.n_layer = ds_.n_layer;
  info_.n_expert = ds_.expert_count;
  info_.n_expert_used = ds_.expert_used_count;
  info_.n_expert_shared = ds_.expert_shared_count;
  info_.attention_top_k = dsa_ ? indexer_.shape().top_k : 0;
  info_.n_params = bind.n_params();
  // Per token: everything bound except the unchosen experts and the
  // embedding table (one row is read), as bytes of the file's formats.
  const bool tied = output_.data == tok_embd_.data;
  const int64_t unchosen = ds_.expert_count - ds_.expert_used_count;
  info_.n_params_active = bind.n_params() - routed_params_per_layer_expert * unchosen -
                          (tied ? 0 : E * V);
  info_.bytes_active = bind.n_bytes() - routed_bytes_per_layer_expert * static_cast<uint64_t>(unchosen) -
                       (tied ? 0 : tok_embd_.row_bytes * V);
}

// deepseek32's YaRN scales as llama.cpp computes them for that arch, where
// DeepSeek-V2's special case (mscale = mscale_all_dim) does not apply. With
// f the context factor, L = mscale_all_dim, g(m) = 1 + 0.1 m ln f (1 when
// f <= 1) and a = rope.scaling.attn_factor: the rope magnitude is
// a g(1) / g(L) / (1 + 0.1 ln f) and the attention scale's mscale
// a g(1) / g(L) (1 + 0.1 L ln f) = a (1 + 0.1 ln f) (src/llama-context.cpp
// yarn_attn_factor, src/models/deepseek32.cpp kq_scale). Sets the rope's
// attn_factor and returns the mscale.
float DeepSeek2::ds32_yarn(const GgufFile& f) {
  const std::string a = f.architecture() + ".";
  const float factor = 1.0f / hp_.rope.freq_scale;
  const float log_mul = static_cast<float>(f.get_float(a + "rope.scaling.yarn_log_multiplier", 0.0)) / 0.1f;
  auto g = [factor](float m) { return factor <= 1.0f ? 1.0f : 1.0f + 0.1f * m * std::log(factor); };
  float rope_mag = 1.0f;
  if (hp_.rope.ext_factor != 0.0f) {
    rope_mag = (log_mul != 0.0f ? g(1.0f) / g(log_mul) : g(1.0f)) / (1.0f + 0.1f * std::log(factor));
  }
  rope_mag *= static_cast<float>(f.get_float(a + "rope.scaling.attn_factor", 1.0));
  hp_.rope.attn_factor = rope_mag;
  return rope_mag * (1.0f + 0.1f * std::log(factor)) * (1.0f + 0.1f * log_mul * std::log(factor));
}

// Older files store W_kb and W_vb fused as attn_kv_b [kv_lora, H*(nope+v)];
// dequantize once into the split layout the absorbed path reads.
void DeepSeek2::split_kv_b(const Binder& bind, const GgufFile& f, int64_t l, Ds2Layer& L) {
  const int64_t H = hp_.head_count, kvl = ds_.kv_lora_rank, nope = ds_.qk_nope, hv = ds_.head_v;
  const TensorView kvb = bind.get(blk(l, "attn_kv_b"), {kvl, H * (nope + hv)});
  std::vector<float> row(static_cast<size_t>(kvl));
  std::vector<float> kb(static_cast<size_t>(H * kvl * nope)), vb(static_cast<size_t>(H * hv * kvl));
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t j = 0; j < nope + hv; ++j) {
      dequantize_row(kvb, h * (nope + hv) + j, row.data());
      for (int64_t r = 0; r < kvl; ++r) {
        if (j < nope) {
          kb[(h * kvl + r) * nope + j] = row[r];  // W_kb[h] row r, column j
        } else {
          vb[(h * hv + (j - nope)) * kvl + r] = row[r];
        }
      }
    }
  }
  auto view = [&](std::vector<float>&& data, int64_t ne0, int64_t ne1) {
    owned_.push_back(std::move(data));
    TensorView v;
    v.type = QType::F32;
    v.n_dims = 3;
    v.ne[0] = ne0;
    v.ne[1] = ne1;
    v.ne[2] = H;
    v.data = reinterpret_cast<const uint8_t*>(owned_.back().data());
    v.row_bytes = static_cast<size_t>(ne0) * sizeof(float);
    return v;
  };
  (void)f;
  L.wk_b = view(std::move(kb), nope, kvl);
  L.wv_b = view(std::move(vb), kvl, hv);
}

void DeepSeek2::attention(const Ds2Layer& L, int64_t l, const Batch& batch, KvCache& kv) {
  const int64_t B = batch.size();
  const int64_t E = hp_.embedding_length, H = hp_.head_count;
  const int64_t hk = ds_.head_k, kvl = ds_.kv_lora_rank, rope = ds_.qk_rope, hv = ds_.head_v;
  // kd: the MLA part of a cache row; kr: the whole row (DSA appends the
  // indexer key).
  const int64_t qd = H * hk, kd = kvl + rope, kr = kd + indexer_key_dim();
  const float eps = hp_.layer_norm_rms_epsilon;
  q_.resize(B * qd);
  kva_.resize(B * kr);
  qabs_.resize(B * H * kd);
  lat_.resize(B * H * kvl);
  o_.resize(B * H * hv);

  {
    OpScope op("attn.q_kv");
    // The q and kv projections read the same normed rows: one quantization.
    if (ds_.q_lora_rank > 0) {
      qa_.resize(B * ds_.q_lora_rank);
      matmul2(L.wq_a, qa_.data(), ds_.q_lora_rank, L.wkv_a, kva_.data(), kr, h_.data(), E, B);
      for (int64_t b = 0; b < B; ++b) {
        float* r = qa_.data() + b * ds_.q_lora_rank;
        rms_norm(r, L.q_a_norm, r, ds_.q_lora_rank, eps);
      }
      matmul(L.wq_b, qa_.data(), ds_.q_lora_rank, B, q_.data(), qd);
    } else {
      matmul2(L.wq, q_.data(), qd, L.wkv_a, kva_.data(), kr, h_.data(), E, B);
    }
  }
  if (dsa_) indexer_.prepare(l, batch, h_.data(), qa_.data(), kva_.data() + kd, kr);
  {
    OpScope op("attn.norm_rope");
    // Tokens over the threads; each token's (cos, sin) once for all its heads.
    parallel_for(B, [&](int64_t b) {
      thread_local std::vector<float> cs;
      cs.resize(static_cast<size_t>(hp_.rope.n_rot));
      rope_table(batch.pos[b], hp_.rope, cs.data());
      float* r = kva_.data() + b * kr;
      rms_norm(r, L.kv_a_norm, r, kvl, eps);      // the latent c_kv
      rope_apply(r + kvl, cs.data(), hp_.rope);  // the shared rope key
      for (int64_t h = 0; h < H; ++h) rope_apply(q_.data() + b * qd + h * hk + ds_.qk_nope, cs.data(), hp_.rope);
    });
    kv_store(batch, kv, l, kva_.data(), nullptr);
  }
  const KeySelection* sel = nullptr;
  if (dsa_ && !dense_dsa_) {
    indexer_.select(l, batch, kv, kd, sel_);
    sel = &sel_;
  }
  {
    const MlaShape shape{H, ds_.qk_nope, rope, kvl, hv, ds_.kq_scale};
    if (naive_mla_) {
      mla_attention_naive(batch, kv, l, shape, L.wk_b, L.wv_b, q_.data(), o_.data(), sel);
    } else {
      mla_attention_absorbed(batch, kv, l, shape, L.wk_b, L.wv_b, q_.data(), o_.data(), qabs_.data(), lat_.data(),
                             sel);
    }
  }
  OpScope op("attn.out");
  matmul(L.wo, o_.data(), H * hv, B, tmp_.data(), E);
  add_inplace(x_.data(), tmp_.data(), B * E);
}

void DeepSeek2::forward(const Batch& batch, KvCache& kv, float* logits) {
  const int64_t B = batch.size();
  const int64_t E = hp_.embedding_length;
  const float eps = hp_.layer_norm_rms_epsilon;
  x_.resize(B * E);
  h_.resize(B * E);
  tmp_.resize(B * E);
  embed_tokens(tok_embd_, batch, x_.data());
  stats_.clear();

  for (int64_t l = 0; l < ds_.n_layer; ++l) {
    const Ds2Layer& L = layers_[l];
    {
      OpScope op("norm");
      rms_norm_rows(x_.data(), L.attn_norm, h_.data(), B, E, eps);
    }
    attention(L, l, batch, kv);

    {
      OpScope op("norm");
      rms_norm_rows(x_.data(), L.ffn_norm, h_.data(), B, E, eps);
    }
    if (!L.moe) {
      OpScope op("ffn.dense");
      swiglu_ffn(L.ffn_gate, L.ffn_up, L.ffn_down, h_.data(), B, tmp_.data(), ffn_);
      add_inplace(x_.data(), tmp_.data(), B * E);
      continue;
    }
    const int64_t NE = ds_.expert_count, k = ds_.expert_used_count;
    rl_.resize(B * NE);
    ri_.resize(B * k);
    rw_.resize(B * k);
    {
      OpScope op("moe.router");
      matmul(L.gate_inp, h_.data(), E, B, rl_.data(), NE);
      RouterConfig rc = ds_.router;
      rc.selection_bias = L.exp_probs_b;
      route(rc, rl_.data(), B, ri_.data(), rw_.data());
    }
    OpScope op("moe.experts");
    stats_.layer = static_cast<int32_t>(l);
    const SharedExpert shared{L.shexp_gate, L.shexp_up, L.shexp_down};
    std::fill(tmp_.begin(), tmp_.begin() + B * E, 0.0f);
    moe_ffn(L.experts, h_.data(), B, ri_.data(), rw_.data(), k, tmp_.data(), moe_, &stats_,
            L.shexp_gate.valid() ? &shared : nullptr);
    add_inplace(x_.data(), tmp_.data(), B * E);
  }

  OpScope op("output");
  output_logits(batch, x_.data(), out_norm_, eps, output_, h_.data(), logits);
}

}  // namespace

std::unique_ptr<Model> make_deepseek2(const GgufFile& f) { return std::make_unique<DeepSeek2>(f); }
std::unique_ptr<Model> make_deepseek32(const GgufFile& f) { return std::make_unique<DeepSeek2>(f); }

}  // namespace moerun
