// Shuffle controls that unpack Q4_K/Q5_K block heads (d at bytes 0-1, dmin
// 2-3, scale bytes q[0..11] at 4..15), one head per 128-bit lane, into
// [sc0..7 | m0..7] per lane (block_common.h unpack_scale_min_k4):
//   lo     = shuffle(head, low), with bytes 12-15 from shuffle(head >> 4, high4)
//   top    = shuffle(head >> 2, top2) & 0x30   (16-bit shifts)
//   [sc|m] = (lo & keep) | top
// and mins16 spreads m0..7 to int16. ISA-neutral; kLanes = 2 (AVX2) or 4
// (AVX-512), the GEMVs in simd/<isa>/ derive their tables from it.
#pragma once

#include <cstdint>

namespace moerun {

template <int kLanes>
struct K4HeadShuffles {
  alignas(64) int8_t low[16 * kLanes] = {};     // [q0..3, q8..11, q4..7, -]: sc0-3, sc4-7 low bits, m0-3
  alignas(64) int8_t high4[16 * kLanes] = {};   // q8..11 high nibbles at 12..15 (m4-7 low bits)
  alignas(64) int8_t top2[16 * kLanes] = {};    // bits 6-7 of q0..3 at 4..7, of q4..7 at 12..15
  alignas(64) int8_t keep[16 * kLanes] = {};    // 6 bits for sc0-3/m0-3, 4 for the others
  alignas(64) int8_t mins16[16 * kLanes] = {};  // m0..7 as int16
  constexpr K4HeadShuffles() {
    for (int c = 0; c < kLanes; ++c) {
      for (int j = 0; j < 16; ++j) {
        const int i = 16 * c + j;
        low[i] = static_cast<int8_t>(j < 4 ? 4 + j : j < 8 ? 8 + j : j < 12 ? j : -128);
        high4[i] = static_cast<int8_t>(j >= 12 ? j : -128);
        top2[i] = static_cast<int8_t>(j >= 4 && j < 8 ? j : j >= 12 ? j - 4 : -128);
        keep[i] = static_cast<int8_t>(j < 4 || (j >= 8 && j < 12) ? 0x3f : 0x0f);
        mins16[i] = static_cast<int8_t>(j % 2 == 0 ? 8 + j / 2 : -128);
      }
    }
  }
};

}  // namespace moerun
