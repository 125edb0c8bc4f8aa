// moerun synth: random-weight GGUF models described as data (DESIGN §10).
// Owns: the description types (GGUF keys + a list of tensors with their
// shapes and how to initialise them), the preset registry, a generated
// SentencePiece-style vocabulary, and writing a description as a GGUF file in
// any block format (values from a counter-based RNG, rows quantized in
// parallel, streamed through GgufWriter so a 10 GB file never sits in memory).
// Does not own: what each architecture's keys and tensors are — each family
// describes itself in models/<family>_synth.cpp.
//
// Magnitudes keep activations healthy through every layer: projections are
// N(0, gain² / fan_in) with a per-32-element block scale that varies (a kernel
// that applies the wrong block's scale fails the tests), norm weights are
// ≈ 1, and attention projections get a gain > 1 so attention is peaked
// (near-uniform attention hides attention bugs).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "quant/format.h"

namespace moerun {

enum class SynthInit {
  kNormal,     // N(0, gain² / ne[0]) × per-block scale: projections, experts, router gates
  kEmbedding,  // N(0, gain²) × per-block scale: token_embd (rows are looked up, not multiplied)
  kNorm,       // gain × (1 + U(-0.2, 0.2)): RMSNorm weights
  kBias,       // N(0, gain²): additive biases
  kUniform,    // U(-gain, gain): DeepSeek-V3's expert selection bias exp_probs_b
};

struct SynthTensor {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the row length
  SynthInit init = SynthInit::kNormal;
  float gain = 1.0f;
  // false: stays F32 whatever the file type (norms, biases, router gates —
  // llama.cpp's quantizer keeps these in F32 too).
  bool quantize = true;
};

using SynthValue = std::variant<uint32_t, float, bool, std::string>;
struct SynthKey {
  std::string key;
  SynthValue value;
};

struct SynthModel {
  std::string arch;        // general.architecture
  std::string name;        // general.name
  int64_t n_vocab = 0;     // rows of token_embd; the vocabulary is generated to this size
  std::vector<SynthKey> keys;  // architecture keys, "<arch>.<leaf>"
  std::vector<SynthTensor> tensors;

  void key(std::string k, SynthValue v) { keys.push_back({std::move(k), std::move(v)}); }
  void tensor(std::string n, std::vector<int64_t> ne, SynthInit init, float gain = 1.0f, bool quantize = true) {
    tensors.push_back({std::move(n), std::move(ne), init, gain, quantize});
  }
  // A norm weight or bias: 1-D, F32.
  void norm(std::string n, int64_t len, float gain = 1.0f) { tensor(std::move(n), {len}, SynthInit::kNorm, gain, false); }
  // A SwiGLU block E -> F -> E: <prefix>ffn_{gate,up,down}<suffix>.weight,
  // with n_expert > 0 one slice per expert (3-D, as ffn_*_exps).
  void swiglu(const std::string& prefix, const std::string& suffix, int64_t E, int64_t F, int64_t n_expert = 0) {
    auto dims = [&](int64_t in, int64_t out) {
      return n_expert > 0 ? std::vector<int64_t>{in, out, n_expert} : std::vector<int64_t>{in, out};
    };
    tensor(prefix + "ffn_gate" + suffix + ".weight", dims(E, F), SynthInit::kNormal);
    tensor(prefix + "ffn_up" + suffix + ".weight", dims(E, F), SynthInit::kNormal);
    tensor(prefix + "ffn_down" + suffix + ".weight", dims(F, E), SynthInit::kNormal);
  }
  int64_t n_params() const;
};

// A named configuration of one architecture. `build(layers)` describes the
// model; layers = 0 keeps the preset's own count.
struct SynthPreset {
  std::string arch;
  std::string name;
  bool tiny = false;  // a small test model (seconds to run); the first tiny preset is `--tiny`
  std::string about;  // one line for --list
  std::function<SynthModel(int64_t layers)> build;
};

// Every preset, arch by arch (each family's synth file adds its own).
const std::vector<SynthPreset>& synth_presets();
// The preset `name` of `arch`, or with name empty the arch's default tiny
// preset. Throws a bad-input Error listing the choices when there is none.
const SynthPreset& find_synth_preset(const std::string& arch, const std::string& name);

// The generated vocabulary's keys (tokenizer.ggml.*): <unk>, <s>, </s>, the
// 256 byte tokens <0x00>..<0xFF>, then "▁" and letter pieces up to n_vocab.
// llama.cpp and moerun both load it as an SPM ("llama") vocabulary.
int64_t synth_vocab_min_size();

// Type each tensor is written in for a file of `type`: tensors marked
// quantize=false stay F32; a row that does not fit the block falls back the
// way `moerun quantize` does (Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0, then F16).
QType synth_tensor_type(const SynthTensor& t, QType type);

struct SynthProgress {
  size_t tensors_done = 0, tensors_total = 0;
  uint64_t bytes_done = 0, bytes_total = 0;
};

// Writes `m` as a GGUF file of `type` (f32, f16, bf16, q8_0, q4_0, q4_k, ...).
// Deterministic: the same (model, type, seed) gives the same bytes whatever
// the thread count. Writes PATH.tmp then renames it. Returns the bytes written.
uint64_t write_synth(const SynthModel& m, QType type, uint64_t seed, const std::string& path,
                     const std::function<void(const SynthProgress&)>& progress = {});

// Per-family preset lists (models/<family>_synth.cpp).
std::vector<SynthPreset> deepseek2_synth_presets();
std::vector<SynthPreset> gqa_moe_synth_presets();

}  // namespace moerun
