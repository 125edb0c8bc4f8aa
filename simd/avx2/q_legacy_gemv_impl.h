// AVX2 decode GEMV (one activation row) for Q4_0, Q5_0 and Q8_0 weights x Q8_0
// activations: the 256-bit port of simd/avx512/q_legacy_gemv.cpp. Included
// by simd/avx2/gemv.cpp (vpmaddubsw + vpmaddwd) and simd/avx2_vnni/gemv.cpp
// (vpdpbusd, vpdpwssd), each its own anonymous namespace. GEMM tiles and the
// single dot stay in quant_impl.h; this replaces only their GEMV.
//
// Why a second kernel: decode streams the weights once, so it must process
// them as fast as memory delivers them, and the tile kernel spent about a
// dozen vector uops per row per block, half of them building a broadcast
// scale (an f16 load, vcvtph2ps, a multiply, a broadcast). Here, per row and
// batch of 8 blocks:
//   - the 8 f16 scales are gathered by 4 (Q4_0) or 8 (Q8_0) overlapping
//     loads whose d words land in distinct dwords, 3 or 7 vpblendd and one
//     vpblendw of the two halves, then one vcvtph2ps and one multiply by the
//     activation scales: 1 to 1.5 uops per block;
//   - Q4_0: blocks g and g+4 share a ymm (a load + vinserti128), split into
//     low and high nibbles; their dot with the activation (reordered once to
//     the nibble order) leaves 4 int32 lanes per block, and two rounds of
//     vpackssdw + vpmaddwd fold the 4 groups into one vector with one lane
//     per block in block order (every partial sum fits int16: 16 * 15 * 128
//     < 2^15), so one vcvtdq2ps + fma serves 256 weights;
//   - Q8_0: one block per ymm; VNNI: u = q ^ 0x80 and vpdpbusd starting from
//     -128 * sum(a); plain AVX2: vpmaddubsw on |q| and sign(a, q), exact
//     because Q8_0 levels are in [-127, 127] (unsigned q + 128 would saturate
//     vpmaddubsw: 2 * 255 * 127 > 2^15). The block's scale is one vpermps;
//   - everything that depends on the activation only (its bytes in nibble
//     order, -offset * sum(a) per block, its scales) is prepared once per
//     call into a stack buffer shared by every row;
//   - a partial last batch is read in place (vpmaskmovd for the scale loads,
//     only the blocks that exist for the rest), never copied;
//   - the next tile's rows are prefetched (see tile_driver.h).
// A broadcast of each Q8_0 block's scale from a stack copy (a load instead of
// vpermps) measured ~20% slower with AVX-VNNI. Tuned on the 2-vCPU Xeon
// (family 6 model 207) named in tile_driver.h; figures in the commit message.
// The integer dots are exact; only the f32 accumulation order differs from
// the scalar reference.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "quant/q4_0.h"
#include "quant/q5_0.h"
#include "quant/q8_0.h"
#include "simd/avx2/vec_ops.h"
#include "simd/gemv_driver.h"

namespace moerun {
namespace {

namespace legacy_gemv {

using namespace avx2_ops;

constexpr int kBatch = 8;  // blocks per batch: one ymm of f32 scales
// Batches of activation prepared per pass (Q8_0 VNNI: 544 B each, so ~17 KB
// of stack); a longer K is done in passes that add into y.
constexpr int kPassBatches = 32;
constexpr int kRows = 4;  // weight rows per tile: 4 nearby streams

// Bytes [off, off + 32) of p as dwords; those not wholly inside [0, end)
// read as zero and are never touched (vpmaskmovd does not fault on them).
inline __m256i load32_upto(const uint8_t* p, int off, int end) {
  const __m256i iota = _mm256_setr_epi32(4, 8, 12, 16, 20, 24, 28, 32);
  const __m256i mask = _mm256_cmpgt_epi32(iota, _mm256_set1_epi32(end - off));
  return _mm256_maskload_epi32(reinterpret_cast<const int*>(p + off), _mm256_xor_si256(mask, _mm256_set1_epi32(-1)));
}

// The f16 scales (the first 2 bytes) of 8 consecutive S-byte blocks at base,
// in block order. Block 2m's d is loaded to byte 4m (low lane, dword m, low
// word), block 2m+1's to byte 16 + 4m + 2 (high lane, dword m, high word):
// vpblendd assembles the 8 dwords, and one vpblendw of the two lanes gives
// d0..d7. For S = 18 one load serves both blocks of a pair. A partial batch
// (kTail) reads only its first `end` bytes; missing blocks get d = 0.
template <int S, bool kTail, int M>
inline __m256i gather_step(const uint8_t* base, __m256i v, int end) {
  constexpr int even = 2 * M * S - 4 * M;
  constexpr int odd = (2 * M + 1) * S - 18 - 4 * M;
  static_assert(odd >= 0 && even + 32 <= 8 * S && odd + 32 <= 8 * S, "a load leaves the batch");
  auto load = [&](int off) {
    return kTail ? load32_upto(base, off, end) : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + off));
  };
  if constexpr (even == odd) {
    if constexpr (M == 0) return load(even);
    return _mm256_blend_epi32(v, load(even), (1 << M) | (16 << M));
  } else {
    if constexpr (M == 0) return _mm256_blend_epi32(load(even), load(odd), 16);
    return _mm256_blend_epi32(_mm256_blend_epi32(v, load(even), 1 << M), load(odd), 16 << M);
  }
}
template <int S, bool kTail = false>
inline __m256 scales8(const uint8_t* base, int end = kBatch * S) {
  __m256i v = _mm256_setzero_si256();
  v = gather_step<S, kTail, 0>(base, v, end);
  v = gather_step<S, kTail, 1>(base, v, end);
  v = gather_step<S, kTail, 2>(base, v, end);
  v = gather_step<S, kTail, 3>(base, v, end);
  const __m128i h = _mm_blend_epi16(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1), 0xAA);
  return _mm256_cvtph_ps(h);
}


// Two u8 x s8 dots summed: sum(u0 * s0 + u1 * s1) per int32 lane. Plain AVX2
// adds the int16 pair sums before widening (each |x| <= 2 * 15 * 128).
inline __m256i dot2_nibbles(__m256i u0, __m256i s0, __m256i u1, __m256i s1) {
#if defined(__AVXVNNI__)
  return _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u0, s0), u1, s1);
#else
  const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(u0, s0), _mm256_maddubs_epi16(u1, s1));
  return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
#endif
}

// init + per-block sums of four group vectors [4 lanes of block g | 4 lanes
// of block g+4], g = 0..3, as [block 0 .. block 7]: vpackssdw joins two
// groups (lanes must fit int16), vpmaddwd adds neighbours.
inline __m256i block_sums(const __m256i (&d)[4], __m256i init) {
  const __m256i one = _mm256_set1_epi16(1);
  const __m256i m01 = _mm256_madd_epi16(_mm256_packs_epi32(d[0], d[1]), one);  // [0 0 1 1 | 4 4 5 5]
  const __m256i m23 = _mm256_madd_epi16(_mm256_packs_epi32(d[2], d[3]), one);  // [2 2 3 3 | 6 6 7 7]
  const __m256i q = _mm256_packs_epi32(m01, m23);
#if defined(__AVXVNNI__)
  return _mm256_dpwssd_avx_epi32(init, q, one);
#else
  return _mm256_add_epi32(init, _mm256_madd_epi16(q, one));
#endif
}

inline __m128i load16(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Q4_0 and Q5_0: group g = blocks g and g+4 in one ymm, [qs of g | qs of
// g+4]; its low nibbles are elements 0-15 of each block, its high nibbles
// 16-31. Q5_0 (kFifth) also loads each block's first 16 bytes, [d, qh, qs
// 0-9] (inside the 22-byte block): their d words give the batch's 8 scales
// by three vpunpckl + one vpermq (the 8-load gather of scales8 cost ~5 uops
// more), and their qh (bit j: element j) is spread by one vpshufb per
// nibble vector so that byte j holds the qh byte of bit j % 16 (+ 16 for the
// high nibbles), tested by vpand + vpcmpeqb against 1 << (j % 8), and 0x10
// of the result is or-ed in: 5 uops per 32 weights, against 3 for a
// vpshufb table of 4-bit groups plus the 3 it takes to split qh into them.
template <class BlockT>
struct GQ4 {
  using Block = BlockT;
  static constexpr bool kFifth = std::is_same_v<BlockT, BlockQ5_0>;
  static constexpr int kOffset = kFifth ? 16 : 8;  // u = q + kOffset is unsigned
  static constexpr bool kOwnScales = kFifth;        // batch() reads the row's scales itself
  struct Act {
    __m256i lo[4], hi[4];  // group g: activation bytes of elements 0-15 / 16-31 of blocks g, g+4
    __m256i init;          // -kOffset * sum(a) per block
    __m256 d;              // activation scales
  };
  // Per-block sums of the group dots (init + [block 0 .. block 7]). Q4_0's
  // group lanes fit int16 twice over (16 * 15 * 128 < 2^15), so the tree of
  // block_sums; Q5_0's 16 * 31 * 128 does not, so its second level is a
  // vphaddd of int32 (its first: 8 * 31 * 128 < 2^15).
  static __m256i sums(const __m256i (&d)[4], __m256i init) {
    if constexpr (kFifth) {
      const __m256i one = _mm256_set1_epi16(1);
      const __m256i m01 = _mm256_madd_epi16(_mm256_packs_epi32(d[0], d[1]), one);  // [0 0 1 1 | 4 4 5 5]
      const __m256i m23 = _mm256_madd_epi16(_mm256_packs_epi32(d[2], d[3]), one);  // [2 2 3 3 | 6 6 7 7]
      return _mm256_add_epi32(init, _mm256_hadd_epi32(m01, m23));
    } else {
      return block_sums(d, init);
    }
  }
  // The activation's 8 blocks at a; kTail: only the first n exist, the rest
  // read as zeros.
  template <bool kTail = false>
  static void prep(const BlockQ8_0* a, Act& out, int n = kBatch) {
    const __m256i z = _mm256_setzero_si256();
    const __m256i off = _mm256_set1_epi8(kOffset);
    __m256i s[4];
    for (int g = 0; g < 4; ++g) {
      const __m256i x = !kTail || g < n ? load32(a[g].qs) : z;
      const __m256i y = !kTail || g + 4 < n ? load32(a[g + 4].qs) : z;
      out.lo[g] = _mm256_permute2x128_si256(x, y, 0x20);
      out.hi[g] = _mm256_permute2x128_si256(x, y, 0x31);
      s[g] = dot2_nibbles(off, out.lo[g], off, out.hi[g]);  // lanes <= 8 * 16 * 128
    }
    out.init = _mm256_sub_epi32(z, block_sums(s, z));
    out.d = scales8<sizeof(BlockQ8_0), kTail>(reinterpret_cast<const uint8_t*>(a), n * sizeof(BlockQ8_0));
  }
  // One row's batch at w (kTail: n blocks), scaled by sc (kOwnScales: by
  // the activation scales, times the row's own), into acc.
  template <bool kTail = false>
  static void batch(const uint8_t* w, const Act& a, __m256 sc, __m256& acc, int n = kBatch) {
    const auto* b = reinterpret_cast<const Block*>(w);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    // [16 bytes at off of block g | of block g + 4].
    auto pair = [&](int g, size_t off) {
      const auto* x = reinterpret_cast<const uint8_t*>(b + g) + off;
      const auto* y = reinterpret_cast<const uint8_t*>(b + g + 4) + off;
      if constexpr (kTail) {
        return _mm256_inserti128_si256(_mm256_castsi128_si256(g < n ? load16(x) : _mm_setzero_si128()),
                                       g + 4 < n ? load16(y) : _mm_setzero_si128(), 1);
      } else {
        return _mm256_inserti128_si256(_mm256_castsi128_si256(load16(x)), load16(y), 1);
      }
    };
    __m256i d[4], head[4];
    for (int g = 0; g < 4; ++g) {
      const __m256i q = pair(g, offsetof(Block, qs));
      __m256i lo = _mm256_and_si256(q, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      if constexpr (kFifth) {
        head[g] = pair(g, 0);  // [d | qh | qs 0-9] of blocks g, g + 4
        const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ULL));
        const __m256i bit4 = _mm256_set1_epi8(0x10);
        auto fifth = [&](__m256i spread) {
          const __m256i t = _mm256_and_si256(_mm256_shuffle_epi8(head[g], spread), bit);
          return _mm256_and_si256(_mm256_cmpeq_epi8(t, bit), bit4);
        };
        lo = _mm256_or_si256(lo, fifth(_mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                                          0x0303030303030303, 0x0202020202020202)));
        hi = _mm256_or_si256(hi, fifth(_mm256_set_epi64x(0x0505050505050505, 0x0404040404040404,
                                                          0x0505050505050505, 0x0404040404040404)));
      }
      d[g] = dot2_nibbles(lo, a.lo[g], hi, a.hi[g]);
    }
    if constexpr (kOwnScales) {
      // Words [d0 d1 . . | d4 d5 . .], [d2 d3 . . | d6 d7 . .], then
      // dwords [d0d1 d2d3 . . | d4d5 d6d7 . .]; vpermq joins the lanes' first
      // qwords. Missing blocks of a partial batch loaded as zeros: d = 0.
      const __m256i d0145 = _mm256_unpacklo_epi16(head[0], head[1]);
      const __m256i d2367 = _mm256_unpacklo_epi16(head[2], head[3]);
      const __m256i dd = _mm256_permute4x64_epi64(_mm256_unpacklo_epi32(d0145, d2367), 0x08);
      sc = _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(dd)), sc);
    }
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums(d, a.init)), sc, acc);
  }
};
using GQ4_0 = GQ4<BlockQ4_0>;
using GQ5_0 = GQ4<BlockQ5_0>;

// Q8_0: one block per ymm, in element order.
struct GQ8_0 {
  using Block = BlockQ8_0;
  struct Act {
    __m256i q[kBatch];  // activation bytes of each block
#if defined(__AVXVNNI__)
    __m256i init[kBatch];  // -128 * sum(a) per 4-byte lane (u = q + 128)
#endif
    __m256 d;
  };
  template <bool kTail = false>
  static void prep(const BlockQ8_0* a, Act& out, int n = kBatch) {
    for (int j = 0; j < kBatch; ++j) {
      out.q[j] = !kTail || j < n ? load32(a[j].qs) : _mm256_setzero_si256();
#if defined(__AVXVNNI__)
      const __m256i s = _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(static_cast<char>(0x80)), out.q[j]);
      out.init[j] = _mm256_sub_epi32(_mm256_setzero_si256(), s);
#endif
    }
    out.d = scales8<sizeof(BlockQ8_0), kTail>(reinterpret_cast<const uint8_t*>(a), n * sizeof(BlockQ8_0));
  }
  template <bool kTail = false>
  static void batch(const uint8_t* w, const Act& a, __m256 sc, __m256& acc, int n = kBatch) {
    const auto* b = reinterpret_cast<const Block*>(w);
    for (int j = 0; j < kBatch; ++j) {
      if (kTail && j >= n) break;
      const __m256i q = load32(b[j].qs);
#if defined(__AVXVNNI__)
      const __m256i dot = _mm256_dpbusd_avx_epi32(a.init[j], _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80))), a.q[j]);
#else
      const __m256i dot = dot_u8s8(_mm256_setzero_si256(), _mm256_sign_epi8(q, q), _mm256_sign_epi8(a.q[j], q));
#endif
      const __m256 s = _mm256_permutevar8x32_ps(sc, _mm256_set1_epi32(j));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), s, acc);
    }
  }
};


template <class G>
struct Gemv {
  using Block = typename G::Block;
  using Act = typename G::Act;
  static constexpr int S = sizeof(Block);
  static constexpr bool kOwn = requires { requires G::kOwnScales; };

  // Rows [r0, r0 + NR), blocks [k0, k0 + nblk) against the prepared act;
  // y[r] = sum (add == false) or y[r] + sum.
  template <int NR>
  static void rows(const MatmulArgs& p, int64_t r0, int64_t k0, int64_t nblk, const Act* act, float* y, bool add) {
    const uint8_t* w[NR];
    tiles::tile_rows(p, r0, k0 * S, w);
    __m256 acc[NR];
    for (auto& v : acc) v = _mm256_setzero_ps();
    const int64_t nfull = nblk / kBatch;
    // Prefetch of the next tile's rows at the same K position (when this
    // call has a next tile), as in simd/avx512/q_legacy_gemv.cpp.
    const size_t pf = tiles::next_tile<NR>(p, r0);
    for (int64_t b = 0; b < nfull; ++b) {
      const Act& a = act[b];
      if (pf != 0) {
        for (int r = 0; r < NR; ++r) {
          for (int o = 0; o < kBatch * S; o += 64) _mm_prefetch(reinterpret_cast<const char*>(w[r] + pf + o), _MM_HINT_T1);
        }
      }
      for (int r = 0; r < NR; ++r) {
        G::batch(w[r], a, kOwn ? a.d : _mm256_mul_ps(scales8<S>(w[r]), a.d), acc[r]);
        w[r] += kBatch * S;
      }
    }
    if (const int tail = static_cast<int>(nblk - nfull * kBatch); tail > 0) {
      const Act& a = act[nfull];
      for (int r = 0; r < NR; ++r) {
        const __m256 sc = kOwn ? a.d : _mm256_mul_ps(scales8<S, true>(w[r], tail * S), a.d);
        G::template batch<true>(w[r], a, sc, acc[r], tail);
      }
    }
    for (int r = 0; r < NR; ++r) {
      const float s = hsum(acc[r]);
      y[r0 + r] = add ? y[r0 + r] + s : s;
    }
  }

  // gemv_driver.h's interface.
  using ActBlock = BlockQ8_0;
  static constexpr int kUnit = kBatch;
  static constexpr int kPassUnits = kPassBatches;
  static constexpr int kRows = legacy_gemv::kRows;
  static void prep(const BlockQ8_0* a, int n, Act& out) {
    if (n == kBatch) {
      G::prep(a, out);
    } else {
      G::template prep<true>(a, out, n);
    }
  }
};

}  // namespace legacy_gemv

void install_legacy_gemv(KernelTable& t) {
  t.fmt[format_index(QType::Q4_0)].gemv = tiles::gemv_passes<legacy_gemv::Gemv<legacy_gemv::GQ4_0>>;
  t.fmt[format_index(QType::Q5_0)].gemv = tiles::gemv_passes<legacy_gemv::Gemv<legacy_gemv::GQ5_0>>;
  t.fmt[format_index(QType::Q8_0)].gemv = tiles::gemv_passes<legacy_gemv::Gemv<legacy_gemv::GQ8_0>>;
  // A few activation rows get the GEMV's floats too (gemv_driver.h).
  tiles::FewColsGemm<legacy_gemv::Gemv<legacy_gemv::GQ4_0>>::install(t.fmt[format_index(QType::Q4_0)]);
  tiles::FewColsGemm<legacy_gemv::Gemv<legacy_gemv::GQ5_0>>::install(t.fmt[format_index(QType::Q5_0)]);
}

}  // namespace
}  // namespace moerun
