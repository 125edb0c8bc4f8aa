// AVX-512 VNNI GEMM (several activation rows) for Q4_0 and Q8_0 weights x
// Q8_0 activations, on the standard ggml block layout. The single dot and
// the decode GEMV stay in q_legacy.cpp and q_legacy_gemv.cpp; this file
// replaces only their GEMM (MoE expert prefill, B ~ 8-16 tokens per
// expert, and dense prefill, B = the prompt). From 16 columns matmul and MoE
// prefill use the packed rows-in-lanes GEMM (q_legacy_gemm_lanes.cpp); Q4_0 rows of
// K >= 512 go to q4_0_block_lanes.cpp, which keeps this GEMM for shorter ones.
//
// Why not the tile kernel: per row and column it rebuilt each block pair's
// scales (broadcasts, insert, vcvtph2ps, multiply) and unpacked each weight
// pair for every 64 weights: ~12 uops per 64 MACs-columns. Here the decode
// GEMV's layout is reused so that work is shared:
//   - a group is 4 blocks (128 weights): one zmm holds bytes 0-15 of each
//     block (Q4_0: its low nibbles, elements 0-15; Q8_0: its first 16
//     bytes) and a second bytes 16-31, so two vpdpbusd give one int32 zmm
//     with 4 lanes per block, and one vcvtdq2ps + fma scales 128 weights.
//     Q8_0 uses the same order as Q4_0, so both share one activation form;
//   - the activation (bytes in that order, the -offset * sum(a) start value
//     of the dot, its scales spread to the lanes of each group) is prepared
//     once per pass over K for kCols columns into a stack buffer;
//   - a row's 16 f16 scales are gathered and converted at once (vpermt2w,
//     vcvtph2ps), and each group's weights are unpacked once (Q4_0: a load,
//     3 inserts, and, shift, and) and used by every column of the tile: per
//     column and 128 weights, 2 vpdpbusd + cvt + mul + fma;
//   - a tile is kRows rows x kCols columns: 16 accumulators leave room for
//     the unpacked group, its lane scales and the products in 32 zmm;
//   - core/compute/matmul.cpp hands a thread 64 rows at a time, so a pass of those
//     rows (64 x 2048 weights: 72 KB of Q4_0, 139 KB of Q8_0) stays in L2
//     while every column group goes over it, and the activation of one
//     group (8 columns x 2048: 32 KB) stays in L1.
// A partial last batch of 16 blocks is read in place with masked loads;
// blocks past it read as zeros in both weight and activation, so they add 0.
// Exactness: per int32 lane, 8 products |u * a| <= 255 * 128 (Q8_0:
// u = q + 128 <= 255; Q4_0: u <= 15) give <= 261120, and the start value
// |offset * sum(a)| <= 128 * 8 * 128 = 131072: the sum stays below 2^24, so
// neither vpdpbusd (which wraps, no saturation) nor vcvtdq2ps rounds.
// GCC 12's AVX-512 headers read a deliberately undefined vector in
// _mm512_reduce_* and _mm512_cvtph_ps, which -Wuninitialized flags at every
// use; the value never reaches a result.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "quant/q4_0.h"
#include "quant/q8_0.h"
#include "simd/avx512/avx512.h"
#include "simd/avx512/batch16.h"
#include "simd/tile_driver.h"

namespace moerun {
namespace {

constexpr int kGroups = 4;       // groups of 4 blocks per batch
constexpr int kCols = 8;         // activation columns per tile (fewer for the rest)
constexpr int kRows = 2;         // weight rows per tile

// One column's batch of 16 activation blocks, prepared for weights whose
// unsigned levels are u = q + offset.
struct Act {
  __m512i lo[kGroups], hi[kGroups];  // bytes 0-15 / 16-31 of group g's 4 blocks
  __m512i init[kGroups];             // -offset * sum(a) per 4-byte lane
  __m512 d[kGroups];                 // the activation scale of each lane of group g
};

// The 16 blocks at a (kTail: only the first n exist; the rest read as 0).
template <int kOffset, bool kTail>
void prep(const BlockQ8_0* a, int n, Act& out) {
  for (int g = 0; g < kGroups; ++g) act_group<kTail>(a + 4 * g, n - 4 * g, kOffset, out.lo[g], out.hi[g], out.init[g]);
  const __m512 d = scales16<sizeof(BlockQ8_0), kTail>(reinterpret_cast<const uint8_t*>(a), n * sizeof(BlockQ8_0));
  for (int g = 0; g < kGroups; ++g) out.d[g] = _mm512_permutexvar_ps(_mm512_load_si512(kLaneIdx.by4[g]), d);
}

// Q4_0: u = the nibble = q + 8.
struct WQ4_0 {
  using Block = BlockQ4_0;
  static constexpr int kOffset = 8;
  // Group of 4 blocks at w (kTail: only the first n exist).
  template <bool kTail>
  [[gnu::always_inline]] static inline void unpack(const Block* w, int n, __m512i& lo, __m512i& hi) {
    const __m512i z = join4(load16<kTail>(w[0].qs, true), load16<kTail>(w[1].qs, n > 1),
                            load16<kTail>(w[2].qs, n > 2), load16<kTail>(w[3].qs, n > 3));
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    lo = _mm512_and_si512(z, m4);
    hi = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
  }
};

// Q8_0: u = q ^ 0x80 = q + 128.
struct WQ8_0 {
  using Block = BlockQ8_0;
  static constexpr int kOffset = 128;
  template <bool kTail>
  [[gnu::always_inline]] static inline void unpack(const Block* w, int n, __m512i& lo, __m512i& hi) {
    const __m512i k128 = _mm512_set1_epi8(static_cast<char>(0x80));
    auto part = [&](int k, int o) { return load16<kTail>(w[k].qs + o, k < n); };
    lo = _mm512_xor_si512(join4(part(0, 0), part(1, 0), part(2, 0), part(3, 0)), k128);
    hi = _mm512_xor_si512(join4(part(0, 16), part(1, 16), part(2, 16), part(3, 16)), k128);
  }
};

template <class W>
struct Gemm {
  using Block = typename W::Block;
  static constexpr int S = sizeof(Block);
  using PassAct = Act[kPassBatches];  // one column's pass

  // Batch b of NR rows at w[r] x NC columns; kTail: only its first n blocks.
  template <int NR, int NC, bool kTail>
  [[gnu::always_inline]] static inline void batch(const uint8_t* const (&w)[NR], const PassAct* act, int b,
                                                  __m512 (&acc)[NR][NC], int n, size_t pf) {
    tiles::prefetch_ahead(w, pf, static_cast<size_t>(n) * S);
    // Unrolled, so the accumulators stay in registers (GCC 12 kept the row
    // loop and moved them through memory each batch).
#pragma GCC unroll 4
    for (int r = 0; r < NR; ++r) {
      const __m512 dw = kTail ? scales16<S, true>(w[r], n * S) : scales16<S>(w[r]);
      for (int g = 0; g < kGroups; ++g) {
        if (kTail && 4 * g >= n) break;
        __m512i lo, hi;
        W::template unpack<kTail>(reinterpret_cast<const Block*>(w[r]) + 4 * g, n - 4 * g, lo, hi);
        const __m512 s = _mm512_permutexvar_ps(_mm512_load_si512(kLaneIdx.by4[g]), dw);
        for (int c = 0; c < NC; ++c) {
          const Act& a = act[c][b];
          const __m512i dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(a.init[g], lo, a.lo[g]), hi, a.hi[g]);
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(s, a.d[g]), acc[r][c]);
        }
      }
    }
  }

  // Rows [r0, r0 + NR) x columns [c0, c0 + NC) over blocks [k0, k0 + nblk);
  // y = sum, or y + sum when add.
  template <int NR, int NC>
  static void tile(const MatmulArgs& p, int64_t r0, int64_t c0, int64_t k0, int64_t nblk, const PassAct* act,
                   bool add) {
    const uint8_t* w[NR];
    tiles::tile_rows(p, r0, k0 * S, w);
    __m512 acc[NR][NC];
    for (auto& row : acc)
      for (auto& v : row) v = _mm512_setzero_ps();
    const int nfull = static_cast<int>(nblk / kBatch);
    // The next tile's rows at the same K position, as the decode GEMV does:
    // with a few columns (the experts of batched decode) this kernel streams
    // its weights like a GEMV, and without it too few lines are in flight.
    const size_t pf = tiles::next_tile<NR>(p, r0);
    for (int b = 0; b < nfull; ++b) {
      batch<NR, NC, false>(w, act, b, acc, kBatch, pf);
      for (auto& q : w) q += kBatch * S;
    }
    if (const int tail = static_cast<int>(nblk - int64_t{nfull} * kBatch); tail > 0) {
      batch<NR, NC, true>(w, act, nfull, acc, tail, pf);
    }
    store_tile(p, r0, c0, acc, add);
  }

  // Columns [c0, c0 + NC) of the pass at k0: prepare them, then every row.
  template <int NC>
  static void cols(const MatmulArgs& p, int64_t c0, int64_t k0, int64_t nblk, PassAct* act, bool add) {
    for (int c = 0; c < NC; ++c) {
      const auto* arow = reinterpret_cast<const BlockQ8_0*>(p.a + (c0 + c) * p.a_stride) + k0;
      for (int j = 0; j * kBatch < nblk; ++j) {
        const int n = static_cast<int>(std::min<int64_t>(kBatch, nblk - j * kBatch));
        if (n == kBatch) {
          prep<W::kOffset, false>(arow + j * kBatch, n, act[c][j]);
        } else {
          prep<W::kOffset, true>(arow + j * kBatch, n, act[c][j]);
        }
      }
    }
    int64_t r = 0;
    for (; r + kRows <= p.N; r += kRows) tile<kRows, NC>(p, r, c0, k0, nblk, act, add);
    for (; r < p.N; ++r) tile<1, NC>(p, r, c0, k0, nblk, act, add);
  }

  // The B % kCols columns left: one group of NC == rest.
  template <int NC>
  static void cols_rest(const MatmulArgs& p, int64_t c0, int64_t rest, int64_t k0, int64_t nblk, PassAct* act,
                        bool add) {
    if constexpr (NC > 0) {
      if (rest == NC) {
        cols<NC>(p, c0, k0, nblk, act, add);
      } else {
        cols_rest<NC - 1>(p, c0, rest, k0, nblk, act, add);
      }
    }
  }

  static void gemm(const MatmulArgs& p) {
    constexpr int64_t kPass = int64_t{kPassBatches} * kBatch;
    const int64_t nb = p.K / Block::kSize;
    PassAct act[kCols];  // 128 KB
    for (int64_t k0 = 0; k0 < nb; k0 += kPass) {
      const int64_t nblk = std::min(nb - k0, kPass);
      const bool add = k0 > 0;
      int64_t c = 0;
      for (; c + kCols <= p.B; c += kCols) cols<kCols>(p, c, k0, nblk, act, add);
      if (c < p.B) cols_rest<kCols - 1>(p, c, p.B - c, k0, nblk, act, add);
    }
  }
};

}  // namespace

void fill_avx512_legacy_gemm(KernelTable& t) {
  t.fmt[format_index(QType::Q4_0)].gemm = Gemm<WQ4_0>::gemm;
  t.fmt[format_index(QType::Q8_0)].gemm = Gemm<WQ8_0>::gemm;
}

}  // namespace moerun
