// AVX2 decode GEMV (one activation row) for Q4_K and Q5_K weights x Q8_K
// activations: the 256-bit port of simd/avx512/k_gemv.cpp's K45. Included by
// simd/avx2/gemv.cpp (vpmaddubsw + vpmaddwd) and simd/avx2_vnni/gemv.cpp
// (vpdpbusd, vpdpwssd), each its own anonymous namespace. GEMM tiles and the
// single dot stay in quant_impl.h; this replaces only their GEMV.
//
// Why a second kernel: the tile kernel spent most of its uops per row and
// super-block on scalar scale/min unpacking and on one broadcast and one
// vpmaddwd per 32-element sub-block. Here, for a tile of 4 rows:
//   - the 16-byte block heads of 2 rows share a ymm (one per 128-bit lane),
//     and byte shuffles and two shifts give [sc0..7 | m0..7] per lane:
//     ~5 uops per row instead of scalar 32-bit unpacking;
//   - the f16 d and dmin of the 4 rows are one vpunpckldq + vpermq +
//     vcvtph2ps; the mins term of 2 rows is one vpmaddwd (mins x pair sums
//     of the activation's bsums, prepared once per call) into a float
//     accumulator with one 128-bit lane per row;
//   - the nibbles meet the activation (used in place: the low nibbles of qs
//     chunk c are sub-block 2c, the high ones 2c+1, the activation's natural
//     order) in a u8 x s8 dot with 8 int32 lanes per sub-block (each fits
//     int16: 4 * 15 * 128 < 2^15); vpackssdw joins two sub-blocks and one
//     vpmaddwd / vpdpwssd applies both scales, whose int16 vector is one
//     vpshufb of the row's unpacked scales;
//   - Q5_K: the fifth bit of a 32-byte nibble vector is bit b of qh[l] (b =
//     2c for the low nibbles of chunk c, 2c + 1 for the high); one 16-bit
//     shift by 4 - b brings it to bit 4 of every byte (|4 - b| <= 4, so no
//     byte takes a neighbour's bit 4), and one and + or merge it: 3 uops
//     per 32 weights, the cheapest AVX2 form found (no vprolvd/vpternlog;
//     a vpcmpeqb bit expansion needs a shuffle and two more ops). Levels
//     are <= 31, so a 4-byte lane's dot is <= 4 * 31 * 128 < 2^15, as the
//     vpackssdw needs;
//   - the next tile's rows are prefetched, as in q_legacy_gemv_impl.h.
// The integer sums are exact; only the f32 accumulation order differs from
// the scalar reference.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "quant/q4_k.h"
#include "quant/q5_k.h"
#include "quant/q8_k.h"
#include "simd/avx2/vec_ops.h"
#include "simd/gemv_driver.h"
#include "simd/k4_head.h"

namespace moerun {
namespace {

namespace q4_k_gemv {

using namespace avx2_ops;

constexpr int kRows = 4;         // rows per tile: two ymm of block heads
constexpr int kPassBlocks = 32;  // super-blocks whose activation terms are prepared per pass

// What depends on the activation only, per super-block.
struct Act {
  __m256i pb;       // int16 bsums[2j] + bsums[2j+1], j = 0..7, in both 128-bit lanes
  const int8_t* q;  // its 256 levels, read in place
  float d;
};

inline void prep(const BlockQ8_K& a, Act& o) {
  const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bsums));
  const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bsums + 8));
  o.pb = _mm256_broadcastsi128_si256(_mm_hadd_epi16(b0, b1));  // |pair| <= 32 * 128
  o.q = a.qs;
  o.d = a.d;
}

// Head shuffles (k4_head.h) and scale spreads, built once (the same in both
// 128-bit lanes).
struct Tables : K4HeadShuffles<2> {
  // Sub-block scales for vpackssdw(dot 2k, dot 2k+1): words 0-3 of each
  // lane come from dot 2k, 4-7 from dot 2k+1.
  alignas(32) int8_t scale16[4][32] = {};
  constexpr Tables() {
    for (int i = 0; i < 32; ++i) {
      const int j = i % 16;
      for (int k = 0; k < 4; ++k) scale16[k][i] = static_cast<int8_t>(j % 2 == 0 ? 2 * k + j / 8 : -128);
    }
  }
};
inline constexpr Tables kT{};


// Bit b of every byte moved to bit 4 (the other bits are left over): a
// 16-bit shift by at most 4 keeps each byte's bit 4 inside its own byte.
template <int kBit>
inline __m256i bit_to_4(__m256i x) {
  if constexpr (kBit < 4) return _mm256_slli_epi16(x, 4 - kBit);
  if constexpr (kBit > 4) return _mm256_srli_epi16(x, kBit - 4);
  return x;
}

// Levels of qs chunk c (sub-blocks 2c: lo, 2c + 1: hi); Q5_K adds the fifth
// bits from qh.
template <class Block, int C>
inline void levels(const Block& b, __m256i& lo, __m256i& hi) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i q = ldu(b.qs + 32 * C);
  lo = _mm256_and_si256(q, m4);
  hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
  if constexpr (std::is_same_v<Block, BlockQ5_K>) {
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    const __m256i qh = ldu(b.qh);
    lo = _mm256_or_si256(lo, _mm256_and_si256(bit_to_4<2 * C>(qh), bit4));
    hi = _mm256_or_si256(hi, _mm256_and_si256(bit_to_4<2 * C + 1>(qh), bit4));
  }
}

// Rows [r0, r0 + NR) over blocks [k0, k0 + nblk) of the prepared act.
template <class Block, int NR>
void rows(const MatmulArgs& p, int64_t r0, int64_t k0, int64_t nblk, const Act* act, float* y, bool add) {
  constexpr int NP = (NR + 1) / 2;  // ymm of block heads
  const Block* w[NR];
  tiles::tile_rows(p, r0, k0, w);
  __m256 acc[NR];
  for (auto& v : acc) v = _mm256_setzero_ps();
  __m256 accm[NP];  // mins term, 128-bit lane h = row 2p + h
  for (auto& v : accm) v = _mm256_setzero_ps();
  const __m256i bits45 = _mm256_set1_epi8(0x30);
  const __m256i z = _mm256_setzero_si256();
  for (int64_t i = 0; i < nblk; ++i) {
    const Act& a = act[i];
    // Q5_K's 176 bytes get 3 lines: the next block's first line covers the rest.
    tiles::prefetch_next_tile<NR, 1>(p, r0, (k0 + i) * sizeof(Block), sizeof(Block));
    // Heads of rows 2p and 2p+1 (zeros past NR: d = dmin = 0).
    __m256i h[NP], scm[NP];
    for (int j = 0; j < NP; ++j) {
      const __m128i h0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[2 * j] + i));
      const __m128i h1 =
          2 * j + 1 < NR ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[2 * j + 1] + i)) : _mm_setzero_si128();
      h[j] = _mm256_inserti128_si256(_mm256_castsi128_si256(h0), h1, 1);
      // [sc0..7 | m0..7] per lane (block_common.h unpack_scale_min_k4).
      const __m256i lo = _mm256_blend_epi32(_mm256_shuffle_epi8(h[j], ld(kT.low)),
                                            _mm256_shuffle_epi8(_mm256_srli_epi16(h[j], 4), ld(kT.high4)), 0x88);
      const __m256i top = _mm256_shuffle_epi8(_mm256_srli_epi16(h[j], 2), ld(kT.top2));
      scm[j] = _mm256_or_si256(_mm256_and_si256(lo, ld(kT.keep)), _mm256_and_si256(top, bits45));
    }
    // f16 [d0 dmin0 d2 dmin2 d1 dmin1 d3 dmin3] of the rows, times the
    // activation scale.
    const __m256i t = _mm256_unpacklo_epi32(h[0], NP > 1 ? h[NP - 1] : z);
    const __m256 f = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(t, 0x08))),
                                   _mm256_set1_ps(a.d));
    // Mins: sum_j m_j (bsum 2j + bsum 2j+1), 4 int32 partial sums per row.
    for (int j = 0; j < NP; ++j) {
      const __m256 dmin = _mm256_permutevar8x32_ps(f, _mm256_setr_epi32(1 + 2 * j, 1 + 2 * j, 1 + 2 * j, 1 + 2 * j,
                                                                        5 + 2 * j, 5 + 2 * j, 5 + 2 * j, 5 + 2 * j));
      const __m256i mins = _mm256_madd_epi16(_mm256_shuffle_epi8(scm[j], ld(kT.mins16)), a.pb);
      accm[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), dmin, accm[j]);
    }
    for (int r = 0; r < NR; ++r) {
      const __m256i s = r % 2 ? _mm256_permute4x64_epi64(scm[r / 2], 0xEE)
                              : _mm256_permute4x64_epi64(scm[r / 2], 0x44);  // the row's lane, twice
      __m256i isum = z;
      auto chunk = [&]<int C>() {
        __m256i lo, hi;
        levels<Block, C>(w[r][i], lo, hi);
        const __m256i d0 = dot_u8s8(z, lo, ldu(a.q + 64 * C));
        const __m256i d1 = dot_u8s8(z, hi, ldu(a.q + 64 * C + 32));
        isum = dot_i16(isum, _mm256_packs_epi32(d0, d1), _mm256_shuffle_epi8(s, ld(kT.scale16[C])));
      };
      chunk.template operator()<0>();
      chunk.template operator()<1>();
      chunk.template operator()<2>();
      chunk.template operator()<3>();
      const __m256 d = _mm256_permutevar8x32_ps(f, _mm256_set1_epi32(4 * (r % 2) + 2 * (r / 2)));
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), d, acc[r]);
    }
  }
  alignas(32) float m[NP][8];
  for (int j = 0; j < NP; ++j) _mm256_store_ps(m[j], accm[j]);
  for (int r = 0; r < NR; ++r) {
    const float* mr = m[r / 2] + 4 * (r % 2);
    const float s = hsum(acc[r]) - (mr[0] + mr[1] + mr[2] + mr[3]);
    y[r0 + r] = add ? y[r0 + r] + s : s;
  }
}

// gemv_driver.h's interface.
template <class Block>
struct Kern {
  using ActBlock = BlockQ8_K;
  using Act = q4_k_gemv::Act;
  static constexpr int kUnit = 1;
  static constexpr int kPassUnits = kPassBlocks;
  static constexpr int kRows = q4_k_gemv::kRows;
  static void prep(const BlockQ8_K* a, int, Act& o) { q4_k_gemv::prep(*a, o); }
  template <int NR>
  static void rows(const MatmulArgs& p, int64_t r0, int64_t k0, int64_t nblk, const Act* act, float* y, bool add) {
    q4_k_gemv::rows<Block, NR>(p, r0, k0, nblk, act, y, add);
  }
};

}  // namespace q4_k_gemv

void install_q4_k_gemv(KernelTable& t) {
  t.fmt[format_index(QType::Q4_K)].gemv = tiles::gemv_passes<q4_k_gemv::Kern<BlockQ4_K>>;
  t.fmt[format_index(QType::Q5_K)].gemv = tiles::gemv_passes<q4_k_gemv::Kern<BlockQ5_K>>;
  // A few activation rows get the GEMV's floats too (gemv_driver.h).
  tiles::FewColsGemm<q4_k_gemv::Kern<BlockQ4_K>>::install(t.fmt[format_index(QType::Q4_K)]);
  tiles::FewColsGemm<q4_k_gemv::Kern<BlockQ5_K>>::install(t.fmt[format_index(QType::Q5_K)]);
}

}  // namespace
}  // namespace moerun
