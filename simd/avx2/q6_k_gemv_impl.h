// AVX2 decode GEMV (one activation row) for Q6_K weights x Q8_K
// activations: the 256-bit port of simd/avx512/k_gemv.cpp's K6. Included by
// simd/avx2/gemv.cpp (vpmaddubsw + vpmaddwd) and simd/avx2_vnni/gemv.cpp
// (vpdpbusd, vpdpwssd), each its own anonymous namespace. GEMM tiles and the
// single dot stay in quant_impl.h; this replaces only their GEMV.
//
// Why a second kernel: the tile kernel spent a vpmaddwd, a two-scale
// broadcast (two scalar loads, two vpbroadcastw, an insert) and an add per
// 32 weights, and reloaded the activation per row. Here, per row and
// super-block:
//   - per 128-element half, the low nibbles of ql[0..63] are elements 0-63
//     in order and the high nibbles 64-127, and qh[l] holds bits 4-5 of
//     elements l, l + 32, l + 64, l + 96 in its bit pairs: each 32-weight
//     vector is (nibbles & 0x0F) | (qh shifted by 4, 2, 0 or -2 & 0x30),
//     the 16-bit shifts exact per byte (|shift| <= 4, see the Q5_K note in
//     q4_k_gemv_impl.h), so the activation is used in place;
//   - levels stay unsigned (0..63) and meet the activation in a u8 x s8 dot
//     with 8 int32 lanes per 32 weights, 4 per 16-weight sub-block, each
//     <= 4 * 63 * 128 < 2^15 (and vpmaddubsw's pairs 2 * 63 * 128 < 2^15),
//     so vpackssdw joins two vectors and one vpmaddwd / vpdpwssd applies
//     four sub-block scales, picked by one vpshufb from the half's 8 int16
//     scales held in both 128-bit lanes (one vpermq each);
//   - the -32 offset is one more vpmaddwd / vpdpwssd per super-block: the
//     negated activation bsums (|bsum| <= 16 * 128, prepared once per call)
//     times 32 * scales (|32 * sc| <= 4096, fits int16);
//   - the next tile's rows are prefetched, as in q_legacy_gemv_impl.h.
// The integer sums are exact; only the f32 accumulation order differs from
// the scalar reference.
#pragma once

#include <immintrin.h>

#include "quant/q6_k.h"
#include "quant/q8_k.h"
#include "simd/avx2/vec_ops.h"
#include "simd/gemv_driver.h"

namespace moerun {
namespace {

namespace q6_k_gemv {

using namespace avx2_ops;

constexpr int kRows = 4;         // rows per tile: 4 nearby weight streams
constexpr int kPassBlocks = 32;  // super-blocks whose activation terms are prepared per pass

// What depends on the activation only, per super-block.
struct Act {
  __m256i nbsums;   // -bsums[g], g = 0..15 (int16)
  const int8_t* q;  // its 256 levels, read in place
  float d;
};

inline void prep(const BlockQ8_K& a, Act& o) {
  o.nbsums = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums)));
  o.q = a.qs;
  o.d = a.d;
}

// vpackssdw(dot u_k, dot u_k+1), k = 0 or 2, has in 128-bit lane c words
// 0-3 from sub-block 2k + c, 4-7 from 2(k + 1) + c (of the half's 8): the
// byte indices that pick those int16 scales from [sc0..7] in each lane.
struct Tables {
  alignas(32) int8_t scale16[2][32] = {};
  constexpr Tables() {
    for (int pair = 0; pair < 2; ++pair) {
      for (int i = 0; i < 32; ++i) {
        const int c = i / 16, word = (i % 16) / 2;
        const int sb = 4 * pair + 2 * (word / 4) + c;
        scale16[pair][i] = static_cast<int8_t>(2 * sb + i % 2);
      }
    }
  }
};
inline constexpr Tables kT{};


// Rows [r0, r0 + NR) over blocks [k0, k0 + nblk) of the prepared act.
template <int NR>
void rows(const MatmulArgs& p, int64_t r0, int64_t k0, int64_t nblk, const Act* act, float* y, bool add) {
  const BlockQ6_K* w[NR];
  tiles::tile_rows(p, r0, k0, w);
  __m256 acc[NR];
  for (auto& v : acc) v = _mm256_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i bits45 = _mm256_set1_epi8(0x30);
  const __m256i z = _mm256_setzero_si256();
  for (int64_t i = 0; i < nblk; ++i) {
    const Act& a = act[i];
    tiles::prefetch_next_tile<NR, 1>(p, r0, (k0 + i) * sizeof(BlockQ6_K), sizeof(BlockQ6_K));
    for (int r = 0; r < NR; ++r) {
      const BlockQ6_K& b = w[r][i];
      const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
      // -32 sum_g sc_g bsum_g (|sum| <= 16 * 2 * 4096 * 2048 < 2^31).
      __m256i isum = dot_i16(z, a.nbsums, _mm256_slli_epi16(sc, 5));
      for (int h = 0; h < 2; ++h) {
        // The half's 8 scales, in both lanes.
        const __m256i s = h ? _mm256_permute4x64_epi64(sc, 0xEE) : _mm256_permute4x64_epi64(sc, 0x44);
        const __m256i ql0 = ldu(b.ql + 64 * h);
        const __m256i ql1 = ldu(b.ql + 64 * h + 32);
        const __m256i qh = ldu(b.qh + 32 * h);
        const __m256i u0 = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
        const __m256i u1 = _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
        const __m256i u2 =
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, bits45));
        const __m256i u3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                           _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
        const int8_t* aq = a.q + 128 * h;
        const __m256i d0 = dot_u8s8(z, u0, ldu(aq));
        const __m256i d1 = dot_u8s8(z, u1, ldu(aq + 32));
        const __m256i d2 = dot_u8s8(z, u2, ldu(aq + 64));
        const __m256i d3 = dot_u8s8(z, u3, ldu(aq + 96));
        isum = dot_i16(isum, _mm256_packs_epi32(d0, d1), _mm256_shuffle_epi8(s, ld(kT.scale16[0])));
        isum = dot_i16(isum, _mm256_packs_epi32(d2, d3), _mm256_shuffle_epi8(s, ld(kT.scale16[1])));
      }
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(_cvtsh_ss(b.d) * a.d), acc[r]);
    }
  }
  for (int r = 0; r < NR; ++r) {
    const float s = hsum(acc[r]);
    y[r0 + r] = add ? y[r0 + r] + s : s;
  }
}

// gemv_driver.h's interface.
struct Kern {
  using ActBlock = BlockQ8_K;
  using Act = q6_k_gemv::Act;
  static constexpr int kUnit = 1;
  static constexpr int kPassUnits = kPassBlocks;
  static constexpr int kRows = q6_k_gemv::kRows;
  static void prep(const BlockQ8_K* a, int, Act& o) { q6_k_gemv::prep(*a, o); }
  template <int NR>
  static void rows(const MatmulArgs& p, int64_t r0, int64_t k0, int64_t nblk, const Act* act, float* y, bool add) {
    q6_k_gemv::rows<NR>(p, r0, k0, nblk, act, y, add);
  }
};

}  // namespace q6_k_gemv

void install_q6_k_gemv(KernelTable& t) { t.fmt[format_index(QType::Q6_K)].gemv = tiles::gemv_passes<q6_k_gemv::Kern>; }

}  // namespace
}  // namespace moerun
