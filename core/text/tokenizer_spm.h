// SentencePiece-style encoder (tokenizer.ggml.model = "llama").
// Owns: the merge loop of llama.cpp's llm_tokenizer_spm: start from single
// characters, repeatedly join the adjacent pair whose joined text is the
// highest-scoring vocabulary token (ties: leftmost), then emit tokens, with
// <0xXX> byte tokens for characters the vocabulary lacks.
// Does not own: special tokens, the space prefix (tokenizer.cpp).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/text/vocab.h"

namespace moerun {

class SpmEncoder {
 public:
  explicit SpmEncoder(const Vocab& vocab);

  // Encodes one run of plain text (no special tokens), escaping spaces to
  // U+2581 first when the vocabulary asks for it. Invalid UTF-8 bytes are
  // single symbols that end up as byte tokens, so nothing is lost.
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  void encode_chunk(std::string_view text, std::vector<int32_t>& out) const;

  const Vocab& vocab_;
  // True when no token has U+2581 right after another character, so no merge
  // can cross the start of a space-led word: text is then merged word by word
  // (same result, and the merge queue stays small on long inputs).
  bool split_at_words_ = false;
};

}  // namespace moerun
