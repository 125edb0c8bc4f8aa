// UTF-8 helpers shared by the tokenizers and the streaming detokenizer.
// Owns: decoding/encoding single code points with strict validation (no
// overlongs, no surrogates, nothing above U+10FFFF) and measuring incomplete
// tails. Does not own: Unicode categories (PCRE2/utf8proc do that) or any
// tokenizer policy for invalid input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace moerun::utf8 {

// Length of the sequence announced by a lead byte, judged by its high bits
// only (as SentencePiece and llama.cpp do): 1 for ASCII and for stray
// continuation bytes, 2/3/4 for lead bytes.
inline int seq_len(uint8_t lead) {
  static constexpr int8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Decodes the well-formed sequence starting at s[pos]. Returns its length
// (1..4) and sets `cp`, or 0 when the bytes there are not a well-formed
// sequence (stray continuation, overlong, surrogate, > U+10FFFF, truncated).
int decode(std::string_view s, size_t pos, uint32_t& cp);

// Appends the UTF-8 encoding of `cp` (must be <= U+10FFFF).
void append(std::string& out, uint32_t cp);

// True when the whole string is well-formed UTF-8.
bool is_valid(std::string_view s);

// Number of bytes at the end of `s` that are a proper prefix of a well-formed
// sequence (0..3): what a streaming printer must hold back until more bytes
// arrive. Bytes that can never become valid are not counted.
size_t incomplete_tail(std::string_view s);

}  // namespace moerun::utf8
