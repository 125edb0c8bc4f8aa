#include "core/text/utf8.h"

namespace moerun::utf8 {

namespace {
bool is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

// Allowed range for the second byte given the lead byte (Unicode Table 3-7,
// "Well-Formed UTF-8 Byte Sequences"); it rules out overlongs, surrogates and
// code points above U+10FFFF in one check.
bool second_ok(uint8_t lead, uint8_t b) {
  switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return is_cont(b);
  }
}

// Expected length from the lead byte, or 0 for bytes that never start a
// well-formed sequence (continuations, C0/C1, F5..FF).
int lead_len(uint8_t b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}
}  // namespace

int decode(std::string_view s, size_t pos, uint32_t& cp) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data()) + pos;
  const size_t avail = s.size() - pos;
  const int n = lead_len(p[0]);
  if (n == 0 || static_cast<size_t>(n) > avail) return 0;
  if (n == 1) {
    cp = p[0];
    return 1;
  }
  if (!second_ok(p[0], p[1])) return 0;
  for (int i = 2; i < n; ++i) {
    if (!is_cont(p[i])) return 0;
  }
  if (n == 2) {
    cp = (uint32_t(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
  } else if (n == 3) {
    cp = (uint32_t(p[0] & 0x0F) << 12) | (uint32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  } else {
    cp = (uint32_t(p[0] & 0x07) << 18) | (uint32_t(p[1] & 0x3F) << 12) |
         (uint32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
  }
  return n;
}

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_valid(std::string_view s) {
  size_t pos = 0;
  uint32_t cp = 0;
  while (pos < s.size()) {
    const int n = decode(s, pos, cp);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

size_t incomplete_tail(std::string_view s) {
  // A sequence is at most 4 bytes, so only the last 3 bytes can be the start
  // of an unfinished one.
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t b = p[n - back];
    if (is_cont(b)) continue;
    const int need = lead_len(b);
    if (need <= 1 || static_cast<size_t>(need) <= back) return 0;
    // Check that what arrived so far can still become well-formed.
    if (back >= 2 && !second_ok(b, p[n - back + 1])) return 0;
    for (size_t i = 2; i < back; ++i) {
      if (!is_cont(p[n - back + i])) return 0;
    }
    return back;
  }
  return 0;
}

}  // namespace moerun::utf8
