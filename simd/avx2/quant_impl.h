// AVX2 integer kernels for every block format, one ymm per 32 elements.
// Included by simd/avx2/quant.cpp (plain AVX2: vpmaddubsw + vpmaddwd) and
// simd/avx2_vnni/quant.cpp (AVX-VNNI: vpdpbusd on ymm), each inside its own
// namespace. vpmaddubsw saturates at 2^15, so every unsigned operand here is
// <= 63 (levels) or 128 (offset sums: 128*127*2 < 2^15); Q8_0 weights use
// the sign trick (|w| x sign(a, w)) instead of an offset.
#pragma once

#include <immintrin.h>

#include <cstring>

#include "quant/q4_0.h"
#include "quant/q4_1.h"
#include "quant/q4_k.h"
#include "quant/q5_0.h"
#include "quant/q5_1.h"
#include "quant/q5_k.h"
#include "quant/q8_0.h"
#include "quant/q8_1.h"
#include "quant/q8_k.h"
#include "simd/avx2/avx2.h"
#include "simd/avx2/q6_k_impl.h"
#include "simd/avx2/vec_ops.h"
#include "simd/tile_driver.h"

namespace {

using namespace moerun::avx2_ops;

inline __m256i nibbles(const uint8_t* qs) {  // element j low nibble of qs[j], j+16 high
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
}

// 0x10 in byte j where bit j of the 32-bit qh is set.
inline __m256i high_bits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(h)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}

inline __m256i load32(const int8_t* q) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)); }

struct WQ4_0 {
  using Block = moerun::BlockQ4_0;
  using Act = moerun::BlockQ8_0;
  static constexpr int kOffset = 8;
  static constexpr bool kMin = false, kSigned = false;
  static __m256i levels(const Block& b) { return nibbles(b.qs); }
};
struct WQ5_0 {
  using Block = moerun::BlockQ5_0;
  using Act = moerun::BlockQ8_0;
  static constexpr int kOffset = 16;
  static constexpr bool kMin = false, kSigned = false;
  static __m256i levels(const Block& b) { return _mm256_or_si256(nibbles(b.qs), high_bits(b.qh)); }
};
struct WQ8_0 {
  using Block = moerun::BlockQ8_0;
  using Act = moerun::BlockQ8_0;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = false, kSigned = true;
  static __m256i levels(const Block& b) { return load32(b.qs); }
};
struct WQ4_1 {
  using Block = moerun::BlockQ4_1;
  using Act = moerun::BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true, kSigned = false;
  static __m256i levels(const Block& b) { return nibbles(b.qs); }
};
struct WQ5_1 {
  using Block = moerun::BlockQ5_1;
  using Act = moerun::BlockQ8_1;
  static constexpr int kOffset = 0;
  static constexpr bool kMin = true, kSigned = false;
  static __m256i levels(const Block& b) { return _mm256_or_si256(nibbles(b.qs), high_bits(b.qh)); }
};

template <class W>
struct Legacy {
  using Block = typename W::Block;
  using Act = typename W::Act;
  static constexpr int kGemvRows = 4;
  static constexpr int kGemmRows = 2;
  static constexpr int kGemmCols = 4;

  template <int NR, int NC>
  static void tile(const moerun::MatmulArgs& p, int64_t r0, int64_t c0) {
    const int64_t nb = p.K / Block::kSize;
    const Block* w[NR];
    const Act* a[NC];
    for (int r = 0; r < NR; ++r) w[r] = reinterpret_cast<const Block*>(p.w + (r0 + r) * p.w_stride);
    for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const Act*>(p.a + (c0 + c) * p.a_stride);
    __m256 acc[NR][NC];
    for (auto& row : acc)
      for (auto& v : row) v = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      moerun::tiles::prefetch_next_tile<NR, NC>(p, r0, i * sizeof(Block), sizeof(Block));
      __m256i aq[NC], a0[NC];
      float da[NC];
      __m256 s8[NC];
      for (int c = 0; c < NC; ++c) {
        const Act& ab = a[c][i];
        aq[c] = load32(ab.qs);
        // Start value -offset * sum(a): shared by the NR rows.
        a0[c] = _mm256_setzero_si256();
        if constexpr (W::kOffset != 0) {
          a0[c] = _mm256_sub_epi32(a0[c], dot_u8s8(_mm256_setzero_si256(),
                                                   _mm256_set1_epi8(static_cast<char>(W::kOffset)), aq[c]));
        }
        da[c] = _cvtsh_ss(ab.d);
        if constexpr (W::kMin) s8[c] = _mm256_set1_ps(_cvtsh_ss(ab.s) * 0.125f);
      }
      for (int r = 0; r < NR; ++r) {
        const Block& b = w[r][i];
        const __m256i u = W::levels(b);
        const float dw = _cvtsh_ss(b.d);
        for (int c = 0; c < NC; ++c) {
          __m256i dot;
          if constexpr (W::kSigned) {
            dot = dot_u8s8(a0[c], _mm256_sign_epi8(u, u), _mm256_sign_epi8(aq[c], u));
          } else {
            dot = dot_u8s8(a0[c], u, aq[c]);
          }
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(dw * da[c]), acc[r][c]);
          if constexpr (W::kMin) acc[r][c] = _mm256_fmadd_ps(_mm256_set1_ps(_cvtsh_ss(b.m)), s8[c], acc[r][c]);
        }
      }
    }
    for (int c = 0; c < NC; ++c) {
      float* y = moerun::tiles::out_row(p, c0 + c) + r0;
      for (int r = 0; r < NR; ++r) y[r] = hsum(acc[r][c]);
    }
  }
};

// Q4_K / Q5_K: qs chunk c (32 bytes) holds sub-block 2c (low nibbles) and
// 2c+1 (high); the 6-bit scales multiply int16 pair sums (vpmaddwd).
inline void unpack_scales_k4(const uint8_t* q, uint8_t* sc, uint8_t* m) {
  uint32_t u[3];
  std::memcpy(u, q, 12);
  const uint32_t s03 = u[0] & 0x3f3f3f3fu;
  const uint32_t s47 = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
  const uint32_t m03 = u[1] & 0x3f3f3f3fu;
  const uint32_t m47 = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
  std::memcpy(sc, &s03, 4);
  std::memcpy(sc + 4, &s47, 4);
  std::memcpy(m, &m03, 4);
  std::memcpy(m + 4, &m47, 4);
}

template <bool kFiveBit>
struct KQ4 {
  using Block = std::conditional_t<kFiveBit, moerun::BlockQ5_K, moerun::BlockQ4_K>;
  static constexpr int kGemvRows = 2;
  static constexpr int kGemmRows = 2;
  static constexpr int kGemmCols = 2;

  template <int NR, int NC>
  static void tile(const moerun::MatmulArgs& p, int64_t r0, int64_t c0) {
    const int64_t nb = p.K / moerun::kSuperBlock;
    const Block* w[NR];
    const moerun::BlockQ8_K* a[NC];
    for (int r = 0; r < NR; ++r) w[r] = reinterpret_cast<const Block*>(p.w + (r0 + r) * p.w_stride);
    for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const moerun::BlockQ8_K*>(p.a + (c0 + c) * p.a_stride);
    __m256 acc[NR][NC];
    for (auto& row : acc)
      for (auto& v : row) v = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int64_t i = 0; i < nb; ++i) {
      moerun::tiles::prefetch_next_tile<NR, NC>(p, r0, i * sizeof(Block), sizeof(Block));
      for (int r = 0; r < NR; ++r) {
        const Block& b = w[r][i];
        alignas(16) uint8_t sc[8], mn[8];
        unpack_scales_k4(b.scales, sc, mn);
        const __m128i m16 = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mn)));
        const __m256i mdup = _mm256_set_m128i(_mm_unpackhi_epi16(m16, m16), _mm_unpacklo_epi16(m16, m16));
        __m256i qh;
        if constexpr (kFiveBit) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh));
        const float d = _cvtsh_ss(b.d);
        const float dmin = _cvtsh_ss(b.dmin);
        __m256i isum[NC];
        for (int c = 0; c < NC; ++c) isum[c] = _mm256_setzero_si256();
        for (int j = 0; j < 8; ++j) {
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * (j / 2)));
          __m256i u = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(q, 4) : q, low4);
          if constexpr (kFiveBit) {
            // Bit 4 of sub-block j's element l is bit j of qh[l].
            u = _mm256_or_si256(u, _mm256_and_si256(_mm256_slli_epi16(_mm256_srli_epi16(qh, j), 4),
                                                    _mm256_set1_epi8(0x10)));
          }
          const __m256i s = _mm256_set1_epi16(sc[j]);
          for (int c = 0; c < NC; ++c) {
            const __m256i av = load32(a[c][i].qs + 32 * j);
            isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(_mm256_maddubs_epi16(u, av), s));
          }
        }
        for (int c = 0; c < NC; ++c) {
          const moerun::BlockQ8_K& ab = a[c][i];
          const __m256i mins =
              _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.bsums)), mdup);
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), _mm256_set1_ps(d * ab.d), acc[r][c]);
          acc[r][c] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_set1_ps(dmin * ab.d), acc[r][c]);
        }
      }
    }
    for (int c = 0; c < NC; ++c) {
      float* y = moerun::tiles::out_row(p, c0 + c) + r0;
      for (int r = 0; r < NR; ++r) y[r] = hsum(acc[r][c]);
    }
  }
};

// Float weights: F32, F16 (F16C), BF16 (shift into the top half of an f32).
struct LoadF32 {
  static constexpr int kStep = 8;
  static constexpr int kBytes = 4;
  static __m256 load(const uint8_t* row, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i); }
  static float one(const uint8_t* row, int64_t i) { return reinterpret_cast<const float*>(row)[i]; }
};
struct LoadF16 {
  static constexpr int kStep = 8;
  static constexpr int kBytes = 2;
  static __m256 load(const uint8_t* row, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + i)));
  }
  static float one(const uint8_t* row, int64_t i) { return _cvtsh_ss(reinterpret_cast<const uint16_t*>(row)[i]); }
};
struct LoadBF16 {
  static constexpr int kStep = 8;
  static constexpr int kBytes = 2;
  static __m256 load(const uint8_t* row, int64_t i) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float one(const uint8_t* row, int64_t i) {
    const uint32_t bits = static_cast<uint32_t>(reinterpret_cast<const uint16_t*>(row)[i]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
};

template <class L>
struct FloatTile {
  static constexpr int kGemvRows = 4;
  static constexpr int kGemmRows = 2;
  static constexpr int kGemmCols = 4;

  template <int NR, int NC>
  static void tile(const moerun::MatmulArgs& p, int64_t r0, int64_t c0) {
    const uint8_t* w[NR];
    const uint8_t* a[NC];
    for (int r = 0; r < NR; ++r) w[r] = p.w + (r0 + r) * p.w_stride;
    for (int c = 0; c < NC; ++c) a[c] = p.a + (c0 + c) * p.a_stride;
    __m256 acc[NR][NC];
    for (auto& row : acc)
      for (auto& v : row) v = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + L::kStep <= p.K; i += L::kStep) {
      // One prefetch per 64 bytes of each row.
      if (i % (64 / L::kBytes) == 0) moerun::tiles::prefetch_next_tile<NR, NC>(p, r0, i * L::kBytes, 64);
      __m256 av[NC];
      for (int c = 0; c < NC; ++c) av[c] = L::load(a[c], i);
      for (int r = 0; r < NR; ++r) {
        const __m256 wv = L::load(w[r], i);
        for (int c = 0; c < NC; ++c) acc[r][c] = _mm256_fmadd_ps(wv, av[c], acc[r][c]);
      }
    }
    for (int c = 0; c < NC; ++c) {
      float* y = moerun::tiles::out_row(p, c0 + c) + r0;
      for (int r = 0; r < NR; ++r) {
        float s = hsum(acc[r][c]);
        for (int64_t k = i; k < p.K; ++k) s += L::one(w[r], k) * L::one(a[c], k);
        y[r] = s;
      }
    }
  }
};

void install_all(moerun::KernelTable& t) {
  using moerun::QType;
  namespace tiles = moerun::tiles;
  tiles::install<Legacy<WQ4_0>>(t, QType::Q4_0);
  tiles::install<Legacy<WQ4_1>>(t, QType::Q4_1);
  tiles::install<Legacy<WQ5_0>>(t, QType::Q5_0);
  tiles::install<Legacy<WQ5_1>>(t, QType::Q5_1);
  tiles::install<Legacy<WQ8_0>>(t, QType::Q8_0);
  tiles::install<KQ4<false>>(t, QType::Q4_K);
  tiles::install<KQ4<true>>(t, QType::Q5_K);
  tiles::install<moerun::q6_k::KQ6>(t, QType::Q6_K);  // simd/avx2/q6_k_impl.h
  tiles::install<FloatTile<LoadF32>>(t, QType::F32);
  tiles::install<FloatTile<LoadF16>>(t, QType::F16);
  tiles::install<FloatTile<LoadBF16>>(t, QType::BF16);
  // After the tiles: the decode GEMVs of this build replace their gemv.
#if defined(__AVXVNNI__)
  moerun::fill_avx2_vnni_gemv(t);
#else
  moerun::fill_avx2_gemv(t);
#endif
}

}  // namespace
