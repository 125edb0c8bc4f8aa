// Synth: the preset registry, the generated vocabulary, and writing a model
// description as a GGUF file (see synth.h).
#include "models/synth.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <type_traits>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "core/gguf/gguf_writer.h"

namespace moerun {

int64_t SynthModel::n_params() const {
  int64_t n = 0;
  for (const SynthTensor& t : tensors) {
    int64_t e = 1;
    for (int64_t d : t.ne) e *= d;
    n += e;
  }
  return n;
}

const std::vector<SynthPreset>& synth_presets() {
  static const std::vector<SynthPreset> all = [] {
    std::vector<SynthPreset> v;
    for (auto* family : {&deepseek2_synth_presets, &gqa_moe_synth_presets}) {
      for (SynthPreset& p : family()) v.push_back(std::move(p));
    }
    return v;
  }();
  return all;
}

const SynthPreset& find_synth_preset(const std::string& arch, const std::string& name) {
  std::string archs, names;
  for (const SynthPreset& p : synth_presets()) {
    if (archs.find("'" + p.arch + "'") == std::string::npos) archs += (archs.empty() ? "'" : ", '") + p.arch + "'";
    if (p.arch != arch) continue;
    if (name.empty() ? p.tiny : p.name == name) return p;
    names += (names.empty() ? "" : ", ") + p.name;
  }
  if (names.empty()) fail("synth: no presets for architecture '" + arch + "' (available: " + archs + ")");
  fail("synth: architecture '" + arch + "' has no preset '" + name + "' (available: " + names + ")");
}

namespace {

// ---- generated vocabulary --------------------------------------------------

// GGUF token types (llama.cpp llama_token_type): 1 normal, 2 unknown, 3 control, 6 byte.
constexpr int32_t kTokNormal = 1, kTokUnknown = 2, kTokControl = 3, kTokByte = 6;
constexpr int64_t kSpecialAndBytes = 3 + 256;

void add_vocab(GgufWriter& w, int64_t n_vocab) {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  tokens.reserve(static_cast<size_t>(n_vocab));
  auto add = [&](std::string t, int32_t type) {
    // SentencePiece scores: higher merges first; the pieces rank in order.
    scores.push_back(type == kTokNormal ? -static_cast<float>(tokens.size()) : 0.0f);
    tokens.push_back(std::move(t));
    types.push_back(type);
  };
  add("<unk>", kTokUnknown);
  add("<s>", kTokControl);
  add("</s>", kTokControl);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    add(buf, kTokByte);
  }
  // Pieces: "▁", then for lengths 1, 2, ...: every lower-case letter string,
  // as a word start ("▁ab") and inside a word ("ab"). Unique by construction.
  const std::string space = "\xE2\x96\x81";  // U+2581, SentencePiece's space
  if (static_cast<int64_t>(tokens.size()) < n_vocab) add(space, kTokNormal);
  for (int len = 1; static_cast<int64_t>(tokens.size()) < n_vocab; ++len) {
    std::string s(static_cast<size_t>(len), 'a');
    while (static_cast<int64_t>(tokens.size()) < n_vocab) {
      add(space + s, kTokNormal);
      if (static_cast<int64_t>(tokens.size()) < n_vocab) add(s, kTokNormal);
      int i = len - 1;  // next string of this length, odometer order
      while (i >= 0 && s[i] == 'z') s[i--] = 'a';
      if (i < 0) break;
      ++s[i];
    }
  }
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_f32_array("tokenizer.ggml.scores", scores);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
}

// ---- values ----------------------------------------------------------------

// splitmix64's finaliser (Steele, Lea, Flood 2014): a counter-based generator,
// so any row can be produced independently (threads, determinism).
inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline float unit(uint64_t r) { return static_cast<float>(r >> 40) * (1.0f / 16777216.0f); }  // [0, 1)

uint64_t name_hash(std::string_view s) {  // FNV-1a 64
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Near-normal N(0, 1) from one 64-bit draw: Irwin-Hall(4), the sum of its four
// 16-bit lanes, centred and scaled to unit variance (a sum of 4 U[0, 65536)
// has std 65536 / sqrt(3)). About 1 ns per value; the tails stop at ±3.5.
inline float near_normal(uint64_t r) {
  const float sum = static_cast<float>(r & 0xffff) + static_cast<float>((r >> 16) & 0xffff) +
                    static_cast<float>((r >> 32) & 0xffff) + static_cast<float>(r >> 48);
  return (sum - 2.0f * 65535.0f) * (1.7320508f / 65536.0f);
}

// Fills one row of K values of tensor `t` (row key `key`).
void fill_row(const SynthTensor& t, uint64_t key, float* x, int64_t K) {
  switch (t.init) {
    case SynthInit::kNormal:
    case SynthInit::kEmbedding: {
      const float fan = t.init == SynthInit::kNormal ? t.gain / std::sqrt(static_cast<float>(K)) : t.gain;
      // Per-32-value block scale 2^U(-1, 1), divided by its RMS sqrt(E[4^u]) =
      // sqrt(3.75 / (2 ln 4)) = 1/0.85989 so the row keeps variance fan².
      // 32 is the block of q4_0/q8_0 and the sub-block of the K-quants.
      constexpr float kBlockRms = 0.85989f;
      for (int64_t j0 = 0; j0 < K; j0 += 32) {
        const float s = fan * std::exp2(2.0f * unit(mix64(~key + static_cast<uint64_t>(j0))) - 1.0f) / kBlockRms;
        const int64_t j1 = std::min(K, j0 + 32);
        for (int64_t i = j0; i < j1; ++i) x[i] = near_normal(mix64(key + static_cast<uint64_t>(i))) * s;
      }
      break;
    }
    case SynthInit::kNorm:
      for (int64_t i = 0; i < K; ++i) x[i] = t.gain * (1.0f + 0.4f * (unit(mix64(key + i)) - 0.5f));
      break;
    case SynthInit::kBias:
      for (int64_t i = 0; i < K; ++i) x[i] = t.gain * near_normal(mix64(key + i));
      break;
    case SynthInit::kUniform:
      for (int64_t i = 0; i < K; ++i) x[i] = t.gain * (2.0f * unit(mix64(key + i)) - 1.0f);
      break;
  }
}

// llama_ftype recorded in general.file_type (llama.h), as `moerun quantize` writes it.
uint32_t file_type_of(QType t) {
  switch (t) {
    case QType::F32: return 0;
    case QType::F16: return 1;
    case QType::Q4_0: return 2;
    case QType::Q4_1: return 3;
    case QType::Q8_0: return 7;
    case QType::Q5_0: return 8;
    case QType::Q5_1: return 9;
    case QType::Q4_K: return 15;
    case QType::Q5_K: return 17;
    case QType::Q6_K: return 18;
    case QType::BF16: return 32;
    default: fail(std::string("synth: cannot write files of type ") + format_traits(t).name);
  }
}

}  // namespace

int64_t synth_vocab_min_size() { return kSpecialAndBytes + 1; }

QType synth_tensor_type(const SynthTensor& t, QType type) {
  if (!t.quantize || t.ne.size() < 2) return QType::F32;
  return fallback_type(type, t.ne[0]);
}

uint64_t write_synth(const SynthModel& m, QType type, uint64_t seed, const std::string& path,
                     const std::function<void(const SynthProgress&)>& progress) {
  if (m.n_vocab < synth_vocab_min_size()) {
    fail("synth: n_vocab " + std::to_string(m.n_vocab) + " is below the generated vocabulary's minimum " +
         std::to_string(synth_vocab_min_size()));
  }
  const FormatTraits& target = format_traits(type);
  if (target.quantize == nullptr) fail(std::string("synth: cannot write type ") + target.name);
  GgufWriter w;
  w.set_string("general.architecture", m.arch);
  w.set_string("general.name", m.name);
  w.set_u32("general.file_type", file_type_of(type));
  if (type != QType::F32 && type != QType::F16 && type != QType::BF16) w.set_u32("general.quantization_version", 2);
  for (const SynthKey& k : m.keys) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, uint32_t>) w.set_u32(k.key, v);
          if constexpr (std::is_same_v<T, float>) w.set_f32(k.key, v);
          if constexpr (std::is_same_v<T, bool>) w.set_bool(k.key, v);
          if constexpr (std::is_same_v<T, std::string>) w.set_string(k.key, v);
        },
        k.value);
  }
  add_vocab(w, m.n_vocab);

  SynthProgress prog;
  prog.tensors_total = m.tensors.size();
  std::vector<uint64_t> sizes;
  for (const SynthTensor& t : m.tensors) {
    const QType tt = synth_tensor_type(t, type);
    int64_t rows = 1;
    for (size_t d = 1; d < t.ne.size(); ++d) rows *= t.ne[d];
    sizes.push_back(row_bytes(tt, t.ne[0]) * static_cast<uint64_t>(rows));
    prog.bytes_total += sizes.back();
    const SynthTensor* tp = &t;
    const uint64_t tkey = mix64(seed ^ name_hash(t.name));
    w.add_tensor(t.name, tt, t.ne, [tp, tt, tkey, rows](uint8_t* dst) {
      const int64_t K = tp->ne[0];
      const FormatTraits& f = format_traits(tt);
      const size_t rb = row_bytes(tt, K);
#pragma omp parallel
      {
        std::vector<float> row(static_cast<size_t>(K));
#pragma omp for schedule(dynamic, 8)
        for (int64_t r = 0; r < rows; ++r) {
          fill_row(*tp, mix64(tkey + 0x632be59bd9b4e019ull * static_cast<uint64_t>(r)), row.data(), K);
          if (tt == QType::F32) {
            std::memcpy(dst + r * rb, row.data(), rb);
          } else {
            f.quantize(row.data(), dst + r * rb, K);
          }
        }
      }
    });
  }
  w.write(path, [&](size_t i, size_t n) {
    prog.tensors_done = i;
    prog.bytes_done += sizes[i - 1];
    (void)n;
    if (progress) progress(prog);
  });
  return prog.bytes_total;
}

}  // namespace moerun
