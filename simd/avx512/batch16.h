// 16-block batches of the legacy formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1
// and their activations), shared by the AVX-512 decode GEMV
// (q_legacy_gemv.cpp), GEMM (q_legacy_gemm.cpp) and Q4_0's blocks-in-lanes
// decode kernel (q4_0_block_lanes.cpp): gathering one f16 field
// of 16 blocks into a zmm of floats, the lane maps that spread per-block
// values over a group's dot lanes, and loads that read a partial batch in
// place (masked) without touching what lies past it, and the store of a
// tile's sums.
// Include only from simd/avx512/ (needs its compile flags); everything is in
// an anonymous namespace, as each file's kernels.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "simd/tile_driver.h"

namespace moerun {
namespace {

constexpr int kBatch = 16;  // blocks whose scales one vcvtph2ps zmm converts
// Batches per pass over K of the legacy decode GEMV (q_legacy_gemv.cpp) and
// of the few-column GEMM (q_legacy_gemm.cpp): one constant, because a pass
// ends in a float add into y, and the GEMM must give each column the GEMV's
// floats (batched decode answers alike for any number of sequences).
constexpr int kPassBatches = 16;

// Gathers an f16 field (bytes kOff, kOff + 1: the scale d at 0, Q4_1/Q5_1's
// min and Q8_1's sum at 2) of 16 consecutive S-byte blocks: each vpermt2w
// picks the words out of a 128-byte window. A window never reads past the
// batch: the last one is moved back to end with it (Q5_0's 22-byte blocks
// would otherwise read 40 bytes past a row's last batch).
template <int S, int kOff>
struct ScaleGather {
  static constexpr int kPer = (126 - kOff) / S + 1;  // blocks whose field lies in one window
  static constexpr int kWindows = (kBatch + kPer - 1) / kPer;
  static_assert(S % 2 == 0 && kOff % 2 == 0 && kBatch * S >= 128, "words, windows inside the batch");
  alignas(64) uint16_t idx[kWindows][32] = {};
  int origin[kWindows] = {};  // byte offset of each window in the batch
  uint32_t mask[kWindows] = {};
  constexpr ScaleGather() {
    for (int w = 0; w < kWindows; ++w) origin[w] = std::min(w * kPer * S, kBatch * S - 128);
    for (int j = 0; j < kBatch; ++j) {
      const int w = j / kPer;
      idx[w][j] = static_cast<uint16_t>((j * S + kOff - origin[w]) / 2);
      mask[w] |= 1u << j;
    }
  }
};
template <int S, int kOff>
inline constexpr ScaleGather<S, kOff> kScaleGather{};

// Bytes [0, n) of p (n may be <= 0 or >= 64); the rest zero, never read.
inline __m512i load64_upto(const uint8_t* p, int n) {
  const __mmask64 k = n >= 64 ? ~__mmask64{0} : n <= 0 ? 0 : (__mmask64{1} << n) - 1;
  return _mm512_maskz_loadu_epi8(k, p);
}

// The 16 f16 fields at kOff of the batch at base (the scales by default),
// as f32. A partial last batch (kTail) reads only its `bytes`; the missing
// blocks get 0.
template <int S, bool kTail = false, int kOff = 0>
inline __m512 scales16(const uint8_t* base, int bytes = kBatch * S) {
  constexpr const ScaleGather<S, kOff>& g = kScaleGather<S, kOff>;
  __m256i h = _mm256_setzero_si256();
  for (int w = 0; w < g.kWindows; ++w) {
    const int o = g.origin[w];
    if (kTail && o >= bytes) break;
    const uint8_t* q = base + o;
    const __m512i lo = kTail ? load64_upto(q, bytes - o) : _mm512_loadu_si512(q);
    const __m512i hi = kTail ? load64_upto(q + 64, bytes - o - 64) : _mm512_loadu_si512(q + 64);
    const __m512i v = _mm512_permutex2var_epi16(lo, _mm512_load_si512(g.idx[w]), hi);
    // A partial batch blends window 0 too: the lanes of the windows it
    // skips must read 0 (Q4_1/Q5_1 multiply two gathered vectors).
    h = w == 0 && !kTail ? _mm512_castsi512_si256(v)
                         : _mm256_mask_blend_epi16(static_cast<__mmask16>(g.mask[w]), h, _mm512_castsi512_si256(v));
  }
  return _mm512_cvtph_ps(h);
}

// Lane l of the result = lane idx[l] of a 16-float vector: per-lane scales.
struct LaneIdx {
  alignas(64) int32_t by4[4][16] = {};  // lanes 4k..4k+3 <- block 4g+k (Q4_0 group g)
  alignas(64) int32_t by8[8][16] = {};  // lanes 8k..8k+7 <- block 2m+k (Q8_0 pair m)
  constexpr LaneIdx() {
    for (int l = 0; l < 16; ++l) {
      for (int g = 0; g < 4; ++g) by4[g][l] = 4 * g + l / 4;
      for (int m = 0; m < 8; ++m) by8[m][l] = 2 * m + l / 8;
    }
  }
};
inline constexpr LaneIdx kLaneIdx{};


// Plain loads, or (a block past a partial batch's end) zeros, never read.
template <bool kTail = false>
inline __m128i load16(const void* p, bool valid = true) {
  if constexpr (kTail) return _mm_maskz_loadu_epi8(valid ? 0xFFFF : 0, p);
  return _mm_loadu_si128(static_cast<const __m128i*>(p));
}
template <bool kTail = false>
inline __m256i load32(const void* p, bool valid = true) {
  if constexpr (kTail) return _mm256_maskz_loadu_epi8(valid ? ~__mmask32{0} : 0, p);
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// [a | b | c | d]. The insert lanes must be immediates, so no loop over
// them (one that only -O3 unrolls does not build at -O2 or under sanitizers).
inline __m512i join4(__m128i a, __m128i b, __m128i c, __m128i d) {
  return _mm512_inserti32x4(_mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(a), b, 1), c, 2), d, 3);
}

// One group (4 blocks, b[0..3], the first n of them present) of an 8-bit
// activation batch in the order the weights' nibbles come: lo = bytes 0-15
// of each block, hi = bytes 16-31, and init = -offset * sum(a) per 4-byte
// lane, the dot's start value for weights stored as u = q + offset.
template <bool kTail, class ActBlock>
inline void act_group(const ActBlock* b, int n, int offset, __m512i& lo, __m512i& hi, __m512i& init) {
  auto part = [&](int k, int o) { return load16<kTail>(b[k].qs + o, k < n); };
  lo = join4(part(0, 0), part(1, 0), part(2, 0), part(3, 0));
  hi = join4(part(0, 16), part(1, 16), part(2, 16), part(3, 16));
  const __m512i off = _mm512_set1_epi8(static_cast<char>(offset));
  init = _mm512_sub_epi32(_mm512_setzero_si512(),
                          _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), off, lo), off, hi));
}

// Each output of an NR x NC tile: its accumulator's lanes summed, into y
// (add: y + the sum), rows from r0, activation columns from c0.
template <int NR, int NC>
inline void store_tile(const MatmulArgs& p, int64_t r0, int64_t c0, const __m512 (&acc)[NR][NC], bool add) {
  for (int c = 0; c < NC; ++c) {
    float* y = tiles::out_row(p, c0 + c) + r0;
    for (int r = 0; r < NR; ++r) {
      const float s = _mm512_reduce_add_ps(acc[r][c]);
      y[r] = add ? y[r] + s : s;
    }
  }
}

}  // namespace
}  // namespace moerun
