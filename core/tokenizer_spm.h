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

#include "core/vocab.h"

namespace moerun {

class SpmEncoder {
 public:
  explicit SpmEncoder(const Vocab& vocab) : vocab_(vocab) {}

  // Encodes one run of plain text (no special tokens), escaping spaces to
  // U+2581 first when the vocabulary asks for it. Invalid UTF-8 bytes are
  // single symbols that end up as byte tokens, so nothing is lost.
  void encode(std::string_view text, std::vector<int32_t>& out) const;

 private:
  const Vocab& vocab_;
};

}  // namespace moerun
