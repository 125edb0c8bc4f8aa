// The token vocabulary of a model: token texts, scores and attributes, BPE
// merges, special ids and the add-BOS/EOS and whitespace policies.
// Owns: reading the tokenizer.ggml.* keys with llama.cpp's defaults for each
// tokenizer type and pre-tokenizer, and everything derived from them (text ->
// id index, byte-fallback table, special-token list, end-of-generation set).
// Does not own: the encode/decode algorithms (tokenizer_spm, tokenizer_bpe,
// tokenizer) or the split regexes (pretokenizer).
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace moerun {

class GgufFile;

constexpr int32_t kTokenNull = -1;

enum class VocabType {
  kSpm,  // tokenizer.ggml.model = "llama": SentencePiece-style, scores + <0xXX> byte fallback
  kBpe,  // tokenizer.ggml.model = "gpt2": byte-level BPE with ranked merges
};

// Token attributes (bit set). The first six come from tokenizer.ggml.token_type
// (GGUF: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte);
// the strip flags are set by model-specific rules (see Vocab::finalize).
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 6,  // swallow whitespace left of this special token
  kAttrRstrip = 1u << 7,  // swallow whitespace right of this special token
};

uint32_t token_attr_from_gguf_type(int64_t type);

// String -> id map over keys stored elsewhere (views), with open addressing
// and linear probing: vocabulary lookups are the inner loop of loading BPE
// merges (~1M lookups for a 128k vocabulary), where std::unordered_map's
// node chasing made loading take most of a second.
class StringIdMap {
 public:
  void clear();
  void reserve(size_t n);
  // Returns the id slot for `key`, inserting kTokenNull if absent (`key`
  // must outlive the map). `inserted` tells which happened.
  int32_t& slot(std::string_view key, bool& inserted);
  int32_t find(std::string_view key) const;
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct Entry {
    const char* data = nullptr;  // nullptr: empty slot
    uint32_t len = 0;
    uint32_t hash = 0;  // high bits of the hash, to skip most string compares
    int32_t id = -1;
  };
  size_t probe_start(uint64_t h) const { return static_cast<size_t>(h) & mask_; }
  void grow();

  std::vector<Entry> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

struct TokenData {
  std::string text;
  float score = 0.0f;
  uint32_t attr = kAttrNormal;
};

struct Vocab {
  Vocab() = default;
  // Movable, not copyable: text_to_id holds views into tokens[].text.
  Vocab(Vocab&&) = default;
  Vocab& operator=(Vocab&&) = default;
  Vocab(const Vocab&) = delete;
  Vocab& operator=(const Vocab&) = delete;

  // ---- source data (filled by from_gguf, the tokenizer.json loader, or a test)
  VocabType type = VocabType::kSpm;
  std::string model;  // tokenizer.ggml.model
  std::string pre;    // tokenizer.ggml.pre ("default" when absent)
  std::string name;   // general.name (some attribute rules key on it)
  std::vector<TokenData> tokens;
  std::vector<std::pair<std::string, std::string>> merges;  // BPE, in rank order
  // BPE: split regexes to use instead of the `pre` family's (from a
  // tokenizer.json whose rules match no known family). Empty: the family's.
  std::vector<std::string> pre_regexes;

  int32_t bos_id = kTokenNull, eos_id = kTokenNull, unk_id = kTokenNull;
  int32_t eot_id = kTokenNull, eom_id = kTokenNull, sep_id = kTokenNull, pad_id = kTokenNull;
  int32_t mask_id = kTokenNull;
  int32_t fim_pre_id = kTokenNull, fim_suf_id = kTokenNull, fim_mid_id = kTokenNull;
  int32_t fim_pad_id = kTokenNull, fim_rep_id = kTokenNull, fim_sep_id = kTokenNull;

  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;    // SPM: prepend " " to text that starts a fragment
  bool escape_whitespace = false;   // replace " " with U+2581 before merging
  bool ignore_merges = false;       // BPE: a word that is a whole token skips merging
  bool byte_encode = true;          // BPE: GPT-2 byte->unicode mapping (false: raw UTF-8)

  // ---- derived by finalize()
  StringIdMap text_to_id;  // views into tokens[].text
  std::vector<int32_t> special_tokens;  // control/user-defined/unknown, longest text first
  std::set<int32_t> eog_ids;
  std::array<int32_t, 256> byte_to_id{};  // byte-fallback / byte-level token per byte

  // Reads the tokenizer.ggml.* keys. Throws moerun::Error naming the file and
  // key on a missing or malformed key or an unsupported tokenizer.
  static Vocab from_gguf(const GgufFile& f);

  // Sets the per-type and per-pre-tokenizer defaults the way llama.cpp does
  // (special ids, add_bos/add_eos, add_space_prefix, ignore_merges, ...).
  // Call before overriding with explicit keys. `pre` must be set first.
  void apply_type_defaults();

  // Builds the derived tables; call once after the source data is complete.
  // Throws on an unknown pre-tokenizer or ids out of range.
  void finalize();

  int32_t n_tokens() const { return static_cast<int32_t>(tokens.size()); }
  int32_t find(std::string_view text) const { return text_to_id.find(text); }
  bool has_attr(int32_t id, uint32_t a) const { return (tokens[static_cast<size_t>(id)].attr & a) != 0; }
};

}  // namespace moerun
