// AVX-512 VNNI kernels for the K-quants: Q4_K and Q5_K weights x Q8_K
// activations, one 256-element super-block per step (Q6_K: q6_k.cpp).
// The 6/8-bit sub-block scales are integers, so a whole super-block is
// summed in int32 (`vpmaddubsw` on unsigned levels <= 63, which cannot
// saturate: 63*127*2 < 2^15, then `vpdpwssd` with the scales) and turned to
// float once: d*d_a*sum - dmin*d_a*mins, exactly the scalar reference's
// integers (quant/q4_k.h etc).
// GCC 12's AVX-512 headers read a deliberately undefined vector in
// _mm512_reduce_* and _mm512_cvtph_ps, which -Wuninitialized flags at every
// use; the value never reaches a result.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "quant/q4_k.h"
#include "quant/q5_k.h"
#include "quant/q8_k.h"
#include "simd/avx512/avx512.h"
#include "simd/tile_driver.h"

namespace moerun {
namespace {

// The 8 6-bit scales and mins of a Q4_K/Q5_K super-block (layout:
// block_common.h unpack_scale_min_k4): bytes 0-7 = sc[0..7], 8-15 = m[0..7].
// Built in two 64-bit registers: storing 4-byte halves and reloading them
// as one vector defeated store forwarding (a stall per row per block).
inline __m128i unpack_scales_k4(const uint8_t* q) {
  uint32_t u[3];
  std::memcpy(u, q, 12);
  const uint64_t s03 = u[0] & 0x3f3f3f3fu;
  const uint64_t s47 = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
  const uint64_t m03 = u[1] & 0x3f3f3f3fu;
  const uint64_t m47 = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
  return _mm_set_epi64x(static_cast<long long>(m03 | m47 << 32), static_cast<long long>(s03 | s47 << 32));
}

inline __m512i load_pair32(const int8_t* q0, const int8_t* q1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q0))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q1)), 1);
}

// int16 lanes 0-15 = v[i0], 16-31 = v[i1] (v: 8 int16 in an xmm).
inline __m512i spread2(__m128i v, short i0, short i1) {
  const __m512i idx = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(i0)), _mm256_set1_epi16(i1), 1);
  return _mm512_permutexvar_epi16(idx, _mm512_castsi128_si512(v));
}

// Q4_K and Q5_K share the 4-bit packing: qs[32c + l] holds element 64c + l
// (low nibble) and 64c + 32 + l (high). A zmm of 64 qs bytes gives, after
// the nibble split, [sub-block 2c | 2c+2] (low) and [2c+1 | 2c+3] (high);
// the activations are loaded in the same order.
template <bool kFiveBit>
struct KQ4 {
  using Block = std::conditional_t<kFiveBit, BlockQ5_K, BlockQ4_K>;
  static constexpr int kGemvRows = 4;
  static constexpr int kGemmRows = 2;
  static constexpr int kGemmCols = 4;

  struct Act {
    __m512i q[4];
    __m256i bsums;
    float d;
  };
  static Act load_act(const BlockQ8_K& a) {
    Act r;
    r.q[0] = load_pair32(a.qs + 0, a.qs + 64);
    r.q[1] = load_pair32(a.qs + 32, a.qs + 96);
    r.q[2] = load_pair32(a.qs + 128, a.qs + 192);
    r.q[3] = load_pair32(a.qs + 160, a.qs + 224);
    r.bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums));
    r.d = a.d;
    return r;
  }

  template <int NR, int NC>
  static void tile(const MatmulArgs& p, int64_t r0, int64_t c0) {
    const int64_t nb = p.K / kSuperBlock;
    const Block* w[NR];
    const BlockQ8_K* a[NC];
    for (int r = 0; r < NR; ++r) w[r] = reinterpret_cast<const Block*>(p.w + (r0 + r) * p.w_stride);
    for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const BlockQ8_K*>(p.a + (c0 + c) * p.a_stride);
    __m512 acc[NR][NC];
    for (auto& row : acc)
      for (auto& v : row) v = _mm512_setzero_ps();
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    for (int64_t i = 0; i < nb; ++i) {
      tiles::prefetch_next_tile<NR, NC>(p, r0, i * sizeof(Block), sizeof(Block));
      Act act[NC];
      for (int c = 0; c < NC; ++c) act[c] = load_act(a[c][i]);
      for (int r = 0; r < NR; ++r) {
        const Block& b = w[r][i];
        const __m512i q0 = _mm512_loadu_si512(b.qs);
        const __m512i q1 = _mm512_loadu_si512(b.qs + 64);
        __m512i u[4] = {_mm512_and_si512(q0, low4), _mm512_and_si512(_mm512_srli_epi16(q0, 4), low4),
                        _mm512_and_si512(q1, low4), _mm512_and_si512(_mm512_srli_epi16(q1, 4), low4)};
        if constexpr (kFiveBit) {
          // Bit 4 of element 64c + l is bit 2c of qh[l]; of 64c + 32 + l, bit 2c+1.
          const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh)));
          const __m512i bit4 = _mm512_set1_epi8(0x10);
          for (int k = 0; k < 4; ++k) {
            const int lo_bit = 4 * (k / 2) + (k % 2);  // sub-block pair (2c, 2c+2) -> bits 2c, 2c+2
            const __m512i sel = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << lo_bit)),
                                                   _mm256_set1_epi8(static_cast<char>(1 << (lo_bit + 2))), 1);
            u[k] = _mm512_mask_add_epi8(u[k], _mm512_test_epi8_mask(qh, sel), u[k], bit4);
          }
        }
        const __m128i scm = unpack_scales_k4(b.scales);
        const __m128i sc16 = _mm_cvtepu8_epi16(scm);
        const __m512i s[4] = {spread2(sc16, 0, 2), spread2(sc16, 1, 3), spread2(sc16, 4, 6), spread2(sc16, 5, 7)};
        const __m128i m16 = _mm_cvtepu8_epi16(_mm_unpackhi_epi64(scm, scm));
        const __m256i mdup = _mm256_set_m128i(_mm_unpackhi_epi16(m16, m16), _mm_unpacklo_epi16(m16, m16));
        const float d = _cvtsh_ss(b.d);
        const float dmin = _cvtsh_ss(b.dmin);
        for (int c = 0; c < NC; ++c) {
          __m512i isum = _mm512_setzero_si512();
          for (int k = 0; k < 4; ++k) isum = _mm512_dpwssd_epi32(isum, _mm512_maddubs_epi16(u[k], act[c].q[k]), s[k]);
          const __m256i mins = _mm256_madd_epi16(act[c].bsums, mdup);  // m_j * (bsum 2j + bsum 2j+1)
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d * act[c].d), acc[r][c]);
          acc[r][c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(_mm512_zextsi256_si512(mins)),
                                       _mm512_set1_ps(dmin * act[c].d), acc[r][c]);
        }
      }
    }
    for (int c = 0; c < NC; ++c) {
      float* y = tiles::out_row(p, c0 + c) + r0;
      for (int r = 0; r < NR; ++r) y[r] = _mm512_reduce_add_ps(acc[r][c]);
    }
  }
};

}  // namespace

void fill_avx512_kquants(KernelTable& t) {
  tiles::install<KQ4<false>>(t, QType::Q4_K);
  tiles::install<KQ4<true>>(t, QType::Q5_K);
}

}  // namespace moerun
