// AVX-512 VNNI kernels for the 32-element block formats: Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0 weights x Q8_0/Q8_1 activations.
// Two blocks per zmm: the weight levels are made unsigned (u = q + offset),
// `vpdpbusd` multiplies them with the signed activation bytes, and the
// offset is removed by starting the accumulator at -offset * sum(a), which
// depends on the activation only and is shared by the NR rows of a tile.
// Lanes 0-7 of each product belong to the first block, 8-15 to the second,
// so one fma per block pair applies both blocks' d_w * d_a.
// GCC 12's AVX-512 headers read a deliberately undefined vector in
// _mm512_reduce_* and _mm512_cvtph_ps, which -Wuninitialized flags at every
// use; the value never reaches a result.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "quant/q4_0.h"
#include "quant/q4_1.h"
#include "quant/q5_0.h"
#include "quant/q5_1.h"
#include "quant/q8_0.h"
#include "quant/q8_1.h"
#include "simd/avx512/avx512.h"
#include "simd/tile_driver.h"

namespace moerun {
namespace {

// f16 scales of two blocks -> lanes 0-7 and 8-15.
inline __m512 scale_pair(const uint16_t* d0, const uint16_t* d1) {
  const __m256i h = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(static_cast<short>(*d0))),
                                            _mm_set1_epi16(static_cast<short>(*d1)), 1);
  return _mm512_cvtph_ps(h);
}

// 32 nibbles of each of two blocks (element j low nibble of qs[j], j+16
// high), in element order: [b0 e0..31 | b1 e0..31].
inline __m512i nibbles_pair(const uint8_t* qs0, const uint8_t* qs1) {
  __m512i z = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs0)));
  z = _mm512_mask_broadcast_i32x4(z, 0xFF00, _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs1)));
  // 128-bit lanes 1 and 3 take the high nibbles.
  const __m512i shift = _mm512_set_epi64(0x0004000400040004, 0x0004000400040004, 0, 0, 0x0004000400040004,
                                         0x0004000400040004, 0, 0);
  return _mm512_and_si512(_mm512_srlv_epi16(z, shift), _mm512_set1_epi8(0x0F));
}

// Bit 4 of each element from the two blocks' qh words.
inline __m512i add_high_bit(__m512i u, const uint8_t* qh0, const uint8_t* qh1) {
  uint32_t h0, h1;
  std::memcpy(&h0, qh0, 4);
  std::memcpy(&h1, qh1, 4);
  const __mmask64 m = static_cast<__mmask64>(h0) | (static_cast<__mmask64>(h1) << 32);
  return _mm512_mask_add_epi8(u, m, u, _mm512_set1_epi8(0x10));
}

inline __m512i load_pair32(const int8_t* q0, const int8_t* q1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q0))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q1)), 1);
}

struct WQ4_0 {
  using Block = BlockQ4_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 8;
  static constexpr bool kMin = false;
  static __m512i levels(const Block* b) { return nibbles_pair(b[0].qs, b[1].qs); }
};
struct WQ5_0 {
  using Block = BlockQ5_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 16;
  static constexpr bool kMin = false;
  static __m512i levels(const Block* b) { return add_high_bit(nibbles_pair(b[0].qs, b[1].qs), b[0].qh, b[1].qh); }
};
struct WQ8_0 {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr int kOffset = 128;  // u = q ^ 0x80 = q + 128
  static constexpr bool kMin = false;
  static __m512i levels(const Block* b) {
    return _mm512_xor_si512(load_pair32(b[0].qs, b[1].qs), _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};
struct WQ4_1 {
  using Block = BlockQ4_1;
  using Act = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m512i levels(const Block* b) { return nibbles_pair(b[0].qs, b[1].qs); }
};
struct WQ5_1 {
  using Block = BlockQ5_1;
  using Act = BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true;
  static __m512i levels(const Block* b) { return add_high_bit(nibbles_pair(b[0].qs, b[1].qs), b[0].qh, b[1].qh); }
};

template <class W>
struct Legacy {
  using Block = typename W::Block;
  using Act = typename W::Act;
  static constexpr int kGemvRows = 4;
  static constexpr int kGemmRows = 4;
  static constexpr int kGemmCols = 4;

  struct ActPair {
    __m512i q;    // activation bytes of both blocks
    __m512i acc;  // -offset * sum(a) per 4-byte group: the dot's start value
    __m512 d;     // d_a per lane
    __m512 s8;    // (Q8_1) s_a / 8 per lane: 8 lanes x m_w x s_a / 8 = m_w s_a
  };

  static ActPair load_act(const Act* a) {
    ActPair p;
    p.q = load_pair32(a[0].qs, a[1].qs);
    if constexpr (W::kOffset != 0) {
      const __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                                              _mm512_set1_epi8(static_cast<char>(W::kOffset)), p.q);
      p.acc = _mm512_sub_epi32(_mm512_setzero_si512(), sum);
    } else {
      p.acc = _mm512_setzero_si512();
    }
    p.d = scale_pair(&a[0].d, &a[1].d);
    if constexpr (W::kMin) p.s8 = _mm512_mul_ps(scale_pair(&a[0].s, &a[1].s), _mm512_set1_ps(0.125f));
    return p;
  }

  // Blocks i, i+1 of NR rows x NC activation rows.
  template <int NR, int NC>
  static void step(const Block* const* w, const Act* const* a, int64_t i, __m512 (&acc)[NR][NC]) {
    ActPair ap[NC];
    for (int c = 0; c < NC; ++c) ap[c] = load_act(a[c] + i);
    for (int r = 0; r < NR; ++r) {
      const Block* b = w[r] + i;
      const __m512i u = W::levels(b);
      const __m512 dw = scale_pair(&b[0].d, &b[1].d);
      __m512 mw;
      if constexpr (W::kMin) mw = scale_pair(&b[0].m, &b[1].m);
      for (int c = 0; c < NC; ++c) {
        const __m512i dot = _mm512_dpbusd_epi32(ap[c].acc, u, ap[c].q);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw, ap[c].d), acc[r][c]);
        if constexpr (W::kMin) acc[r][c] = _mm512_fmadd_ps(mw, ap[c].s8, acc[r][c]);
      }
    }
  }

  template <int NR, int NC>
  static void tile(const MatmulArgs& p, int64_t r0, int64_t c0) {
    const int64_t nb = p.K / Block::kSize;
    const Block* w[NR];
    const Act* a[NC];
    for (int r = 0; r < NR; ++r) w[r] = reinterpret_cast<const Block*>(p.w + (r0 + r) * p.w_stride);
    for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const Act*>(p.a + (c0 + c) * p.a_stride);
    __m512 acc[NR][NC];
    for (auto& row : acc)
      for (auto& v : row) v = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
      tiles::prefetch_next_tile<NR, NC>(p, r0, i * sizeof(Block), 2 * sizeof(Block));
      step<NR, NC>(w, a, i, acc);
    }
    if (i < nb) {
      // Odd last block: run it paired with an all-zero block (d = 0, so it
      // adds nothing) from a stack copy, never reading past the row.
      Block wb[NR][2];
      Act ab[NC][2];
      const Block* wp[NR];
      const Act* apt[NC];
      for (int r = 0; r < NR; ++r) {
        wb[r][0] = w[r][i];
        std::memset(&wb[r][1], 0, sizeof(Block));
        wp[r] = wb[r];
      }
      for (int c = 0; c < NC; ++c) {
        ab[c][0] = a[c][i];
        std::memset(&ab[c][1], 0, sizeof(Act));
        apt[c] = ab[c];
      }
      step<NR, NC>(wp, apt, 0, acc);
    }
    for (int c = 0; c < NC; ++c) {
      float* y = tiles::out_row(p, c0 + c) + r0;
      for (int r = 0; r < NR; ++r) y[r] = _mm512_reduce_add_ps(acc[r][c]);
    }
  }
};

}  // namespace

void fill_avx512_legacy(KernelTable& t) {
  tiles::install<Legacy<WQ4_0>>(t, QType::Q4_0);
  tiles::install<Legacy<WQ4_1>>(t, QType::Q4_1);
  tiles::install<Legacy<WQ5_0>>(t, QType::Q5_0);
  tiles::install<Legacy<WQ5_1>>(t, QType::Q5_1);
  tiles::install<Legacy<WQ8_0>>(t, QType::Q8_0);
}

}  // namespace moerun
