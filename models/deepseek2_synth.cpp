// Synth presets of the deepseek2 family: the GGUF keys and tensors that
// llama.cpp's converter (conversion/deepseek.py, MLA split into attn_k_b /
// attn_v_b) writes for a DeepSeek-V2/V3 config, as data, and for V3.2
// (arch deepseek32) the lightning indexer's keys and tensors on top. Real
// shapes (ds2-lite, ds3, ds32-lite, ds32) for benchmarks; tiny variants for
// the oracle tests.
#include <algorithm>
#include <cstdio>

#include "models/synth.h"

namespace moerun {

namespace {

// Field names follow the Hugging Face config.json of the DeepSeek models.
struct Ds2Config {
  std::string name;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t max_position_embeddings = 0;
  int64_t num_attention_heads = 0;
  int64_t q_lora_rank = 0;  // 0: none (V2-Lite): attn_q instead of attn_q_a/attn_q_b
  bool write_q_lora_rank = true;  // V2-Lite's converted file has no q_lora_rank key
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  int64_t intermediate_size = 0;  // dense blocks
  int64_t first_k_dense_replace = 0;
  int64_t n_routed_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t n_shared_experts = 0;
  int64_t moe_intermediate_size = 0;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  bool sigmoid = false;           // scoring_func "sigmoid" + e_score_correction_bias (V3)
  bool norm_topk_prob = false;
  float routed_scaling_factor = 1.0f;
  float rope_theta = 10000.0f;
  float yarn_factor = 0.0f;       // rope_scaling.factor (0: no YaRN)
  int64_t yarn_original_max_position_embeddings = 0;
  float yarn_mscale_all_dim = 0.0f;
  float rms_norm_eps = 1e-6f;
  // DeepSeek-V3.2's lightning indexer (DSA); index_topk 0: none (deepseek2).
  int64_t index_n_heads = 0;
  int64_t index_head_dim = 0;
  int64_t index_topk = 0;
  // Gains of the tiny test models (see synth.h): attention projections > 1
  // so attention is peaked; the router > 1 so routing is decisive.
  float attn_gain = 1.0f;
  float router_gain = 1.0f;
  float out_gain = 1.0f;
};

SynthModel build(Ds2Config c, int64_t layers) {
  if (layers > 0) {
    c.num_hidden_layers = layers;
    if (c.first_k_dense_replace >= layers) {
      const int64_t dense = std::max<int64_t>(0, layers - 1);
      std::fprintf(stderr, "synth: %lld layer(s): %lld leading dense block(s) instead of %lld, so one MoE block remains\n",
                   static_cast<long long>(layers), static_cast<long long>(dense),
                   static_cast<long long>(c.first_k_dense_replace));
      c.first_k_dense_replace = dense;
    }
  }
  SynthModel m;
  m.arch = c.index_topk > 0 ? "deepseek32" : "deepseek2";
  m.name = c.name;
  m.n_vocab = c.vocab_size;
  const std::string a = m.arch + ".";
  const int64_t E = c.hidden_size, H = c.num_attention_heads, NE = c.n_routed_experts;
  const int64_t hk = c.qk_nope_head_dim + c.qk_rope_head_dim, kvl = c.kv_lora_rank;
  auto u = [](int64_t v) { return static_cast<uint32_t>(v); };
  m.key(a + "context_length", u(c.max_position_embeddings));
  m.key(a + "embedding_length", u(E));
  m.key(a + "block_count", u(c.num_hidden_layers));
  m.key(a + "feed_forward_length", u(c.intermediate_size));
  m.key(a + "attention.head_count", u(H));
  // MLA is stored as MQA over the latent: one KV head of kv_lora + rope dims.
  m.key(a + "attention.head_count_kv", u(1));
  m.key(a + "attention.key_length", u(kvl + c.qk_rope_head_dim));
  m.key(a + "attention.value_length", u(kvl));
  m.key(a + "attention.key_length_mla", u(hk));
  m.key(a + "attention.value_length_mla", u(c.v_head_dim));
  m.key(a + "attention.layer_norm_rms_epsilon", c.rms_norm_eps);
  m.key(a + "leading_dense_block_count", u(c.first_k_dense_replace));
  m.key(a + "vocab_size", u(c.vocab_size));
  // llama.cpp requires q_lora_rank unless the layer count marks a "lite"
  // model (26 or 27 layers, src/models/deepseek2.cpp); a shrunk ds2-lite
  // gets an explicit 0.
  const bool lite_by_layers = m.arch == "deepseek2" && (c.num_hidden_layers == 26 || c.num_hidden_layers == 27);
  if (c.write_q_lora_rank || !lite_by_layers) m.key(a + "attention.q_lora_rank", u(c.q_lora_rank));
  if (c.index_topk > 0) {
    m.key(a + "attention.indexer.head_count", u(c.index_n_heads));
    m.key(a + "attention.indexer.key_length", u(c.index_head_dim));
    m.key(a + "attention.indexer.top_k", u(c.index_topk));
  }
  m.key(a + "attention.kv_lora_rank", u(kvl));
  m.key(a + "expert_feed_forward_length", u(c.moe_intermediate_size));
  m.key(a + "expert_count", u(NE));
  m.key(a + "expert_used_count", u(c.num_experts_per_tok));
  m.key(a + "expert_shared_count", u(c.n_shared_experts));
  m.key(a + "expert_weights_scale", c.routed_scaling_factor);
  if (c.norm_topk_prob) m.key(a + "expert_weights_norm", true);
  // llama.cpp's enum llama_expert_gating_func_type: 1 softmax, 2 sigmoid.
  m.key(a + "expert_gating_func", u(c.sigmoid ? 2 : 1));
  if (c.n_group > 1) {
    m.key(a + "expert_group_count", u(c.n_group));
    m.key(a + "expert_group_used_count", u(c.topk_group));
  }
  m.key(a + "rope.dimension_count", u(c.qk_rope_head_dim));
  m.key(a + "rope.freq_base", c.rope_theta);
  if (c.yarn_factor > 0) {
    m.key(a + "rope.scaling.type", std::string("yarn"));
    m.key(a + "rope.scaling.factor", c.yarn_factor);
    m.key(a + "rope.scaling.original_context_length", u(c.yarn_original_max_position_embeddings));
    // conversion/deepseek.py stores 0.1 * mscale_all_dim (TAG_DEEPSEEK2_YARN_LOG_MUL_FIX).
    m.key(a + "rope.scaling.yarn_log_multiplier", 0.1f * c.yarn_mscale_all_dim);
  }

  const float g = c.attn_gain;
  m.tensor("token_embd.weight", {E, c.vocab_size}, SynthInit::kEmbedding);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    m.norm(b + "attn_norm.weight", E);
    if (c.q_lora_rank > 0) {
      m.tensor(b + "attn_q_a.weight", {E, c.q_lora_rank}, SynthInit::kNormal);
      m.norm(b + "attn_q_a_norm.weight", c.q_lora_rank);
      m.tensor(b + "attn_q_b.weight", {c.q_lora_rank, H * hk}, SynthInit::kNormal, g);
    } else {
      m.tensor(b + "attn_q.weight", {E, H * hk}, SynthInit::kNormal, g);
    }
    m.tensor(b + "attn_kv_a_mqa.weight", {E, kvl + c.qk_rope_head_dim}, SynthInit::kNormal, g);
    m.norm(b + "attn_kv_a_norm.weight", kvl);
    m.tensor(b + "attn_k_b.weight", {c.qk_nope_head_dim, kvl, H}, SynthInit::kNormal, g);
    m.tensor(b + "attn_v_b.weight", {kvl, c.v_head_dim, H}, SynthInit::kNormal);
    m.tensor(b + "attn_output.weight", {H * c.v_head_dim, E}, SynthInit::kNormal);
    if (c.index_topk > 0) {
      const int64_t D = c.index_head_dim;
      m.tensor(b + "indexer.attn_q_b.weight", {c.q_lora_rank, c.index_n_heads * D}, SynthInit::kNormal, g);
      m.tensor(b + "indexer.attn_k.weight", {E, D}, SynthInit::kNormal, g);
      m.norm(b + "indexer.k_norm.weight", D);
      m.tensor(b + "indexer.k_norm.bias", {D}, SynthInit::kBias, 0.1f, false);
      // The converter keeps the per-head weights in F32 (conversion/base.py).
      m.tensor(b + "indexer.proj.weight", {E, c.index_n_heads}, SynthInit::kNormal, 1.0f, false);
    }
    m.norm(b + "ffn_norm.weight", E);
    if (l < c.first_k_dense_replace) {
      m.swiglu(b, "", E, c.intermediate_size);
      continue;
    }
    const int64_t F = c.moe_intermediate_size;
    m.tensor(b + "ffn_gate_inp.weight", {E, NE}, SynthInit::kNormal, c.router_gain, false);
    // V3's e_score_correction_bias: of the order of the spread of sigmoid
    // scores, so it changes some selections but not all.
    if (c.sigmoid) m.tensor(b + "exp_probs_b.bias", {NE}, SynthInit::kUniform, 0.1f, false);
    m.swiglu(b, "_exps", E, F, NE);
    m.swiglu(b, "_shexp", E, F * c.n_shared_experts);
  }
  m.norm("output_norm.weight", E);
  m.tensor("output.weight", {E, c.vocab_size}, SynthInit::kNormal, c.out_gain);
  return m;
}

// DeepSeek-V2-Lite (deepseek-ai/DeepSeek-V2-Lite config.json): 15.7 B
// parameters, 2.4 B active; no q LoRA; softmax routing, no groups.
Ds2Config ds2_lite() {
  Ds2Config c;
  c.name = "ds2-lite (synthetic)";
  c.vocab_size = 102400;
  c.hidden_size = 2048;
  c.num_hidden_layers = 27;
  c.max_position_embeddings = 163840;
  c.num_attention_heads = 16;
  c.q_lora_rank = 0;
  c.write_q_lora_rank = false;
  c.kv_lora_rank = 512;
  c.qk_nope_head_dim = 128;
  c.qk_rope_head_dim = 64;
  c.v_head_dim = 128;
  c.intermediate_size = 10944;
  c.first_k_dense_replace = 1;
  c.n_routed_experts = 64;
  c.num_experts_per_tok = 6;
  c.n_shared_experts = 2;
  c.moe_intermediate_size = 1408;
  c.routed_scaling_factor = 1.0f;
  c.yarn_factor = 40.0f;
  c.yarn_original_max_position_embeddings = 4096;
  c.yarn_mscale_all_dim = 0.707f;
  return c;
}

// DeepSeek-V3 (deepseek-ai/DeepSeek-V3 config.json): 671 B parameters, 37 B
// active; sigmoid routing with the correction bias, 8 groups of which 4 are
// used, normalised weights × 2.5. The MTP block (num_nextn_predict_layers)
// is not written: it is not part of the normal forward pass.
Ds2Config ds3() {
  Ds2Config c;
  c.name = "ds3 (synthetic)";
  c.vocab_size = 129280;
  c.hidden_size = 7168;
  c.num_hidden_layers = 61;
  c.max_position_embeddings = 163840;
  c.num_attention_heads = 128;
  c.q_lora_rank = 1536;
  c.kv_lora_rank = 512;
  c.qk_nope_head_dim = 128;
  c.qk_rope_head_dim = 64;
  c.v_head_dim = 128;
  c.intermediate_size = 18432;
  c.first_k_dense_replace = 3;
  c.n_routed_experts = 256;
  c.num_experts_per_tok = 8;
  c.n_shared_experts = 1;
  c.moe_intermediate_size = 2048;
  c.n_group = 8;
  c.topk_group = 4;
  c.sigmoid = true;
  c.norm_topk_prob = true;
  c.routed_scaling_factor = 2.5f;
  c.yarn_factor = 40.0f;
  c.yarn_original_max_position_embeddings = 4096;
  c.yarn_mscale_all_dim = 1.0f;
  return c;
}

// The tiny test models: every row a multiple of 32 (q4_0/q8_0 blocks), a
// vocabulary of 384 tokens, 3 layers (1 dense), 16 experts.
Ds2Config tiny_v3() {
  Ds2Config c;
  c.name = "tiny-v3 (synthetic)";
  c.vocab_size = 384;
  c.hidden_size = 128;
  c.num_hidden_layers = 3;
  c.max_position_embeddings = 256;
  c.num_attention_heads = 4;
  c.q_lora_rank = 64;
  c.kv_lora_rank = 64;
  c.qk_nope_head_dim = 32;
  c.qk_rope_head_dim = 16;
  c.v_head_dim = 32;
  c.intermediate_size = 256;
  c.first_k_dense_replace = 1;
  c.n_routed_experts = 16;
  c.num_experts_per_tok = 4;
  c.n_shared_experts = 1;
  c.moe_intermediate_size = 64;
  c.n_group = 4;
  c.topk_group = 2;
  c.sigmoid = true;
  c.norm_topk_prob = true;
  c.routed_scaling_factor = 2.5f;
  c.attn_gain = 2.0f;
  c.router_gain = 2.0f;
  c.out_gain = 2.0f;
  return c;
}

Ds2Config tiny_v3_nonorm() {
  Ds2Config c = tiny_v3();
  c.name = "tiny-v3-nonorm (synthetic)";
  c.norm_topk_prob = false;
  c.routed_scaling_factor = 1.5f;
  return c;
}

Ds2Config tiny_v2_lite() {
  Ds2Config c = tiny_v3();
  c.name = "tiny-v2-lite (synthetic)";
  c.q_lora_rank = 0;
  c.n_shared_experts = 2;
  c.num_experts_per_tok = 6;
  c.n_group = 1;
  c.topk_group = 1;
  c.sigmoid = false;
  c.norm_topk_prob = false;
  c.routed_scaling_factor = 1.0f;
  return c;
}

// YaRN as V2/V3 use it (factor 40 over 4096 in the real models), scaled down
// so the 32-token test input spans the ramp: factor 4 over 16 positions.
Ds2Config tiny_yarn() {
  Ds2Config c = tiny_v2_lite();
  c.name = "tiny-yarn (synthetic)";
  c.max_position_embeddings = 64;
  c.yarn_factor = 4.0f;
  c.yarn_original_max_position_embeddings = 16;
  c.yarn_mscale_all_dim = 0.707f;
  return c;
}

// DeepSeek-V3.2's indexer (deepseek-ai/DeepSeek-V3.2-Exp config.json:
// index_n_heads 64, index_head_dim 128, index_topk 2048).
Ds2Config with_dsa(Ds2Config c) {
  c.index_n_heads = 64;
  c.index_head_dim = 128;
  c.index_topk = 2048;
  return c;
}

// DeepSeek-V3.2-Exp: V3's shapes plus the indexer.
Ds2Config ds32() {
  Ds2Config c = with_dsa(ds3());
  c.name = "ds32 (synthetic)";
  return c;
}

// V2-Lite's shapes with V3.2's indexer, for attention benchmarks at a size
// this machine holds: the indexer reads the q latent, so it gets V3's q LoRA
// (rank 1536); no such model was published.
Ds2Config ds32_lite() {
  Ds2Config c = with_dsa(ds2_lite());
  c.name = "ds32-lite (synthetic)";
  c.q_lora_rank = 1536;
  c.write_q_lora_rank = true;
  return c;
}

// The tiny V3.2: tiny-v3 with an indexer of 8 heads of 64 (llama.cpp's
// Hadamard matrices start at 64) and top_k 16, so a 32-token input already
// drops keys and a 256-token one drops most.
Ds2Config tiny_ds32() {
  Ds2Config c = tiny_v3();
  c.name = "tiny-ds32 (synthetic)";
  c.index_n_heads = 8;
  c.index_head_dim = 64;
  c.index_topk = 16;
  return c;
}

// With YaRN (factor 4 over 64 positions, mscale_all_dim 0.707): deepseek32
// takes its attention mscale differently from deepseek2.
Ds2Config tiny_ds32_yarn() {
  Ds2Config c = tiny_ds32();
  c.name = "tiny-ds32-yarn (synthetic)";
  c.yarn_factor = 4.0f;
  c.yarn_original_max_position_embeddings = 64;
  c.yarn_mscale_all_dim = 0.707f;
  return c;
}

SynthPreset preset(std::string name, bool tiny, std::string about, Ds2Config (*config)()) {
  return {config().index_topk > 0 ? "deepseek32" : "deepseek2", std::move(name), tiny, std::move(about),
          [config](int64_t layers) { return build(config(), layers); }};
}

}  // namespace

std::vector<SynthPreset> deepseek2_synth_presets() {
  return {
      preset("tiny-v3", true, "V3 routing: sigmoid + exp_probs_b, 4 groups 2 used, norm, scale 2.5; q LoRA", tiny_v3),
      preset("tiny-v3-nonorm", true, "V3 routing without weight normalisation, scale 1.5", tiny_v3_nonorm),
      preset("tiny-v2-lite", true, "V2-Lite: no q LoRA, softmax routing, 2 shared experts", tiny_v2_lite),
      preset("tiny-yarn", true, "V2-Lite shape with YaRN (factor 4, original context 16, mscale_all_dim 0.707)",
             tiny_yarn),
      preset("ds2-lite", false, "DeepSeek-V2-Lite shapes: 27 layers, 64 experts top-6 + 2 shared (~15.7 B params)",
             ds2_lite),
      preset("ds3", false, "DeepSeek-V3 shapes: 61 layers, 256 experts top-8 + 1 shared (~671 B params; use --layers)",
             ds3),
      preset("tiny-ds32", true, "tiny-v3 + DSA lightning indexer: 8 heads of 64, top_k 16", tiny_ds32),
      preset("tiny-ds32-yarn", true, "tiny-ds32 with YaRN (factor 4, original context 64, mscale_all_dim 0.707)",
             tiny_ds32_yarn),
      preset("ds32-lite", false, "DeepSeek-V2-Lite shapes + q LoRA 1536 + V3.2's indexer (64 x 128, top_k 2048)",
             ds32_lite),
      preset("ds32", false, "DeepSeek-V3.2-Exp shapes: ds3 + indexer 64 x 128, top_k 2048 (use --layers)", ds32),
  };
}

}  // namespace moerun
