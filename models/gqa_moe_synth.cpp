// Synth presets of the GQA + routed-MoE families (models/gqa_moe.cpp):
// qwen2moe, qwen3moe and Mixtral-style llama, as the GGUF keys and tensors
// llama.cpp's converter writes for each. Real shapes for benchmarks; one tiny
// model per architecture for the oracle tests.
#include "models/synth.h"

namespace moerun {

namespace {

// Field names follow the Hugging Face config.json of each model.
struct GqaMoeConfig {
  std::string arch;  // GGUF general.architecture
  std::string name;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t max_position_embeddings = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;                          // 0: hidden_size / num_attention_heads
  int64_t intermediate_size = 0;                 // feed_forward_length (Mixtral: each expert's width)
  int64_t moe_intermediate_size = 0;             // expert_feed_forward_length (Qwen); 0: not written
  int64_t shared_expert_intermediate_size = 0;   // qwen2moe's sigmoid-gated shared expert; 0: none
  int64_t num_experts = 0;
  int64_t num_experts_per_tok = 0;
  bool qk_norm = false;   // Qwen3: RMSNorm of each q/k head
  bool qkv_bias = false;  // Qwen2: q/k/v projection biases
  float rope_theta = 10000.0f;
  float rms_norm_eps = 1e-6f;
  // Gains of the tiny test models (see synth.h): attention > 1 so it is
  // peaked (Qwen3: through the q/k norm weights), router > 1.
  float attn_gain = 1.0f;
  float router_gain = 1.0f;
  float out_gain = 1.0f;
};

SynthModel build(GqaMoeConfig c, int64_t layers) {
  if (layers > 0) c.num_hidden_layers = layers;
  SynthModel m;
  m.arch = c.arch;
  m.name = c.name;
  m.n_vocab = c.vocab_size;
  const std::string a = c.arch + ".";
  const int64_t E = c.hidden_size, H = c.num_attention_heads, Hkv = c.num_key_value_heads, NE = c.num_experts;
  const int64_t hd = c.head_dim > 0 ? c.head_dim : E / H;
  const int64_t F = c.moe_intermediate_size > 0 ? c.moe_intermediate_size : c.intermediate_size;
  auto u = [](int64_t v) { return static_cast<uint32_t>(v); };
  m.key(a + "context_length", u(c.max_position_embeddings));
  m.key(a + "embedding_length", u(E));
  m.key(a + "block_count", u(c.num_hidden_layers));
  m.key(a + "feed_forward_length", u(c.intermediate_size));
  m.key(a + "attention.head_count", u(H));
  m.key(a + "attention.head_count_kv", u(Hkv));
  if (hd != E / H) {
    m.key(a + "attention.key_length", u(hd));
    m.key(a + "attention.value_length", u(hd));
  }
  m.key(a + "attention.layer_norm_rms_epsilon", c.rms_norm_eps);
  m.key(a + "rope.dimension_count", u(hd));
  m.key(a + "rope.freq_base", c.rope_theta);
  m.key(a + "expert_count", u(NE));
  m.key(a + "expert_used_count", u(c.num_experts_per_tok));
  if (c.moe_intermediate_size > 0) m.key(a + "expert_feed_forward_length", u(c.moe_intermediate_size));
  if (c.shared_expert_intermediate_size > 0) {
    m.key(a + "expert_shared_feed_forward_length", u(c.shared_expert_intermediate_size));
  }

  const float g = c.qk_norm ? 1.0f : c.attn_gain;
  m.tensor("token_embd.weight", {E, c.vocab_size}, SynthInit::kEmbedding);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    m.norm(b + "attn_norm.weight", E);
    m.tensor(b + "attn_q.weight", {E, H * hd}, SynthInit::kNormal, g);
    m.tensor(b + "attn_k.weight", {E, Hkv * hd}, SynthInit::kNormal, g);
    m.tensor(b + "attn_v.weight", {E, Hkv * hd}, SynthInit::kNormal);
    if (c.qkv_bias) {
      m.tensor(b + "attn_q.bias", {H * hd}, SynthInit::kBias, 0.5f, false);
      m.tensor(b + "attn_k.bias", {Hkv * hd}, SynthInit::kBias, 0.5f, false);
      m.tensor(b + "attn_v.bias", {Hkv * hd}, SynthInit::kBias, 0.5f, false);
    }
    if (c.qk_norm) {
      m.norm(b + "attn_q_norm.weight", hd, c.attn_gain);
      m.norm(b + "attn_k_norm.weight", hd, c.attn_gain);
    }
    m.tensor(b + "attn_output.weight", {H * hd, E}, SynthInit::kNormal);
    m.norm(b + "ffn_norm.weight", E);
    m.tensor(b + "ffn_gate_inp.weight", {E, NE}, SynthInit::kNormal, c.router_gain, false);
    m.swiglu(b, "_exps", E, F, NE);
    if (c.shared_expert_intermediate_size > 0) {
      const int64_t Fs = c.shared_expert_intermediate_size;
      // The shared expert's gate: one logit per token (a 1-D weight, F32).
      m.tensor(b + "ffn_gate_inp_shexp.weight", {E}, SynthInit::kNormal, 2.0f, false);
      m.swiglu(b, "_shexp", E, Fs);
    }
  }
  m.norm("output_norm.weight", E);
  m.tensor("output.weight", {E, c.vocab_size}, SynthInit::kNormal, c.out_gain);
  return m;
}

// Qwen/Qwen3-30B-A3B config.json.
GqaMoeConfig qwen3_30b_a3b() {
  GqaMoeConfig c;
  c.arch = "qwen3moe";
  c.name = "qwen3-30b-a3b (synthetic)";
  c.vocab_size = 151936;
  c.hidden_size = 2048;
  c.num_hidden_layers = 48;
  c.max_position_embeddings = 40960;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 4;
  c.head_dim = 128;
  c.intermediate_size = 6144;
  c.moe_intermediate_size = 768;
  c.num_experts = 128;
  c.num_experts_per_tok = 8;
  c.qk_norm = true;
  c.rope_theta = 1000000.0f;
  return c;
}

// Qwen/Qwen1.5-MoE-A2.7B config.json.
GqaMoeConfig qwen15_moe_a27b() {
  GqaMoeConfig c;
  c.arch = "qwen2moe";
  c.name = "qwen1.5-moe-a2.7b (synthetic)";
  c.vocab_size = 151936;
  c.hidden_size = 2048;
  c.num_hidden_layers = 24;
  c.max_position_embeddings = 8192;
  c.num_attention_heads = 16;
  c.num_key_value_heads = 16;
  c.intermediate_size = 5632;
  c.moe_intermediate_size = 1408;
  c.shared_expert_intermediate_size = 5632;
  c.num_experts = 60;
  c.num_experts_per_tok = 4;
  c.qkv_bias = true;
  c.rope_theta = 1000000.0f;
  return c;
}

// mistralai/Mixtral-8x7B-v0.1 config.json (GGUF arch "llama" with experts).
GqaMoeConfig mixtral_8x7b() {
  GqaMoeConfig c;
  c.arch = "llama";
  c.name = "mixtral-8x7b (synthetic)";
  c.vocab_size = 32000;
  c.hidden_size = 4096;
  c.num_hidden_layers = 32;
  c.max_position_embeddings = 32768;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 8;
  c.intermediate_size = 14336;
  c.num_experts = 8;
  c.num_experts_per_tok = 2;
  c.rope_theta = 1000000.0f;
  c.rms_norm_eps = 1e-5f;
  return c;
}

// Tiny test models: rows multiples of 32, 384 tokens, 3 layers.
GqaMoeConfig tiny(GqaMoeConfig c, std::string name) {
  c.name = std::move(name);
  c.vocab_size = 384;
  c.hidden_size = 128;
  c.num_hidden_layers = 3;
  c.max_position_embeddings = 256;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.attn_gain = 2.0f;
  c.router_gain = 2.0f;
  c.out_gain = 2.0f;
  return c;
}

GqaMoeConfig tiny_qwen3moe() {
  GqaMoeConfig c = tiny(qwen3_30b_a3b(), "tiny-qwen3moe (synthetic)");
  c.head_dim = 64;  // != hidden / heads, as in the real model: key_length must be read
  c.intermediate_size = 256;
  c.moe_intermediate_size = 64;
  c.num_experts = 16;
  c.num_experts_per_tok = 4;
  return c;
}

// Every matrix row 256 wide, so a q4_k/q5_k/q6_k file is really made of
// K-quants (the other tiny presets' rows fall back to q5_0).
GqaMoeConfig tiny_qwen3moe_k() {
  GqaMoeConfig c = tiny(qwen3_30b_a3b(), "tiny-qwen3moe-k (synthetic)");
  c.hidden_size = 256;
  c.head_dim = 64;
  c.moe_intermediate_size = 256;
  c.num_experts = 8;
  c.num_experts_per_tok = 2;
  return c;
}

GqaMoeConfig tiny_qwen2moe() {
  GqaMoeConfig c = tiny(qwen15_moe_a27b(), "tiny-qwen2moe (synthetic)");
  c.intermediate_size = 256;
  c.moe_intermediate_size = 64;
  c.shared_expert_intermediate_size = 128;
  c.num_experts = 16;
  c.num_experts_per_tok = 4;
  return c;
}

GqaMoeConfig tiny_mixtral() {
  GqaMoeConfig c = tiny(mixtral_8x7b(), "tiny-mixtral (synthetic)");
  c.intermediate_size = 128;
  return c;
}

SynthPreset preset(std::string name, bool tiny_model, std::string about, GqaMoeConfig (*config)()) {
  GqaMoeConfig probe = config();
  return {probe.arch, std::move(name), tiny_model, std::move(about),
          [config](int64_t layers) { return build(config(), layers); }};
}

}  // namespace

std::vector<SynthPreset> gqa_moe_synth_presets() {
  return {
      preset("tiny-qwen3moe", true, "q/k norm, head_dim 64 != n_embd/n_head, 16 experts top-4", tiny_qwen3moe),
      preset("tiny-qwen3moe-k", true, "256-wide rows: K-quant types apply to every matrix", tiny_qwen3moe_k),
      preset("qwen3-30b-a3b", false, "Qwen3-30B-A3B shapes: 48 layers, 128 experts top-8 (~30.5 B params)",
             qwen3_30b_a3b),
      preset("tiny-qwen2moe", true, "q/k/v biases, sigmoid-gated shared expert, 16 experts top-4", tiny_qwen2moe),
      preset("qwen1.5-moe-a2.7b", false, "Qwen1.5-MoE-A2.7B shapes: 24 layers, 60 experts top-4 + shared (~14.3 B)",
             qwen15_moe_a27b),
      preset("tiny-mixtral", true, "Mixtral-style llama MoE: 8 experts top-2", tiny_mixtral),
      preset("mixtral-8x7b", false, "Mixtral-8x7B shapes: 32 layers, 8 experts top-2 (~46.7 B params)", mixtral_8x7b),
  };
}

}  // namespace moerun
