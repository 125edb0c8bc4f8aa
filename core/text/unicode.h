// GPT-2's reversible byte <-> unicode mapping used by byte-level BPE.
// Owns: the 256-entry table (printable Latin-1 bytes map to themselves, the
// rest to U+0100.. in byte order, as in openai/gpt-2 encoder.py
// bytes_to_unicode) and its inverse. Does not own: regexes or merges.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace moerun {

// UTF-8 of the code point standing for byte `b`.
const std::string& byte_to_unicode(uint8_t b);

// The byte a code point stands for, or -1 if it stands for none.
int unicode_to_byte(uint32_t cp);

// Maps every byte of `raw` to its stand-in and appends to `out`.
void byte_encode_append(std::string_view raw, std::string& out);

// Inverse of byte_encode_append: appends the bytes the code points of `text`
// stand for. Returns false (and appends nothing more) at the first code point
// that stands for no byte or invalid UTF-8.
bool byte_decode_append(std::string_view text, std::string& out);

}  // namespace moerun
