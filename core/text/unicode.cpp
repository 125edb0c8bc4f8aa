#include "core/text/unicode.h"

#include <array>

#include "core/text/utf8.h"

namespace moerun {

namespace {

struct ByteTables {
  std::array<std::string, 256> to_unicode;
  std::array<uint32_t, 256> cp{};
  std::array<int16_t, 0x144> byte_of{};  // code point -> byte, -1 if none
  ByteTables() {
    byte_of.fill(-1);
    // Bytes that are printable and not space keep their code point; the other
    // 68 get U+0100, U+0101, ... in increasing byte order.
    auto keeps = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
    uint32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      cp[b] = keeps(b) ? static_cast<uint32_t>(b) : next++;
      utf8::append(to_unicode[b], cp[b]);
      byte_of[cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteTables& tables() {
  static const ByteTables t;
  return t;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t b) { return tables().to_unicode[b]; }

int unicode_to_byte(uint32_t cp) {
  // 256 stand-ins in all: U+0021..U+00FF minus 68, plus U+0100..U+0143.
  return cp < 0x144 ? tables().byte_of[cp] : -1;
}

void byte_encode_append(std::string_view raw, std::string& out) {
  const auto& t = tables();
  for (unsigned char c : raw) out += t.to_unicode[c];
}

bool byte_decode_append(std::string_view text, std::string& out) {
  size_t pos = 0;
  uint32_t cp = 0;
  while (pos < text.size()) {
    const int n = utf8::decode(text, pos, cp);
    if (n == 0) return false;
    const int b = unicode_to_byte(cp);
    if (b < 0) return false;
    out += static_cast<char>(b);
    pos += n;
  }
  return true;
}

}  // namespace moerun
