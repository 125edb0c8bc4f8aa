// Byte-level BPE encoder (tokenizer.ggml.model = "gpt2").
// Owns: llama.cpp's llm_tokenizer_bpe merge loop made fast: split text into
// words with the pre-tokenizer, map each word's bytes to GPT-2's unicode
// stand-ins, start from single characters and repeatedly join the adjacent
// pair with the lowest merge rank (ties: leftmost). Strings are interned to
// integer ids at load so the loop compares integers, and repeated words are
// served from a per-call cache.
// Does not own: special tokens, BOS/EOS (tokenizer.cpp), the regexes
// (pretokenizer.cpp).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/text/pretokenizer.h"
#include "core/text/vocab.h"

namespace moerun {

class BpeEncoder {
 public:
  explicit BpeEncoder(const Vocab& vocab);

  // Encodes one run of plain text (no special tokens). Thread-safe.
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;  // interned id of the joined string
  };
  struct Scratch;

  int32_t lookup(std::string_view s) const;  // interned id or kTokenNull
  int32_t intern(const std::string& s);
  void encode_word(std::string_view word, std::vector<int32_t>& out, Scratch& scratch) const;

  const Vocab& vocab_;
  PreTokenizer pre_;
  // Ids >= n_tokens name strings that occur in merges but not in the vocabulary.
  std::deque<std::string> extra_strings_;
  StringIdMap extra_ids_;
  // Merges by (left id << 32 | right id): open addressing, linear probing,
  // because this lookup is the inner loop (std::unordered_map's node chasing
  // cost ~10% of encode time).
  struct MergeTable {
    static constexpr uint64_t kEmpty = ~uint64_t{0};
    std::vector<uint64_t> keys;
    std::vector<Merge> values;
    uint64_t mask = 0;
    void init(size_t n);
    bool insert(uint64_t key, Merge m);  // false if the key is present
    const Merge* find(uint64_t key) const;
  };
  MergeTable merges_;
  int32_t byte_sym_[256];  // byte-level: interned id of each byte's stand-in
  bool newline_words_whole_ = false;  // Gemma 4: a run of "\n" that is a token is used whole
};

}  // namespace moerun
