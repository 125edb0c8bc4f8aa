// AVX-512 VNNI decode GEMV (one activation row) for Q4_0, Q5_0, Q8_0 weights x
// Q8_0 activations and Q4_1, Q5_1 x Q8_1, on the standard ggml block layout.
// GEMM tiles and the single dot stay in q_legacy.cpp; this file replaces
// only their GEMV. Q4_0 rows of K >= 512 go to q4_0_block_lanes.cpp, which
// keeps this GEMV for shorter rows.
//
// Why a second kernel: decode streams the weights once, so it must process
// weights as fast as memory delivers them (Q4_0: ~2 weights per byte). The
// tile kernel spends ~12 vector uops per row per 64 weights, half of them
// building the per-lane scale vector (two f16 broadcasts, an insert,
// vcvtph2ps, a multiply). Here, per row:
//   - 16 blocks' f16 scales are gathered from the row by two vpermt2w (the
//     d fields sit at a fixed stride) and converted by one vcvtph2ps, then
//     multiplied by the 16 activation scales: ~6 uops per 512 weights;
//   - Q4_0: four blocks' nibbles are loaded into one zmm (a load + 3
//     inserts), split by one and + one shift+and, and two vpdpbusd sum
//     them into one int32 zmm holding 4 lanes per block, so one
//     vcvtdq2ps + vpermps (scale per lane) + fma serves 128 weights;
//   - everything that depends on the activation only (its bytes reordered
//     to match the nibble order, the -offset * sum(a) start value of the
//     dot, its scales) is prepared once per call into a stack buffer and
//     shared by every row;
//   - a partial last batch (K not a multiple of 512) is read in place with
//     masked loads, running only the groups that hold blocks (a padded
//     stack copy per row cost 2x in decode of a K = 192 model: store
//     forwarding fails on the overlapping reloads);
//   - the next tile's rows are prefetched: without it a core kept too few
//     lines in flight and stayed at ~65% of the STREAM triad.
// Tuned on a 2-vCPU Xeon (family 6 model 207, AVX-512 VNNI); figures in the
// commit messages (tests/bench/bench_kernels.cpp).
// GCC 12's AVX-512 headers read a deliberately undefined vector in
// _mm512_reduce_* and _mm512_cvtph_ps, which -Wuninitialized flags at every
// use; the value never reaches a result.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "quant/q4_0.h"
#include "quant/q4_1.h"
#include "quant/q5_0.h"
#include "quant/q5_1.h"
#include "quant/q8_0.h"
#include "quant/q8_1.h"
#include "simd/avx512/avx512.h"
#include "simd/avx512/batch16.h"
#include "simd/gemv_driver.h"

namespace moerun {
namespace {

// Activation batches prepared per pass: batch16.h's kPassBatches (Q8_0: 1.1
// KB each, so ~17 KB of stack); a longer K is done in passes that add into y.
constexpr int kTileRows = 4;  // weight rows per tile: adjacent rows, so 4 nearby streams

// Q4_0 and Q5_0: a group is 4 blocks (128 weights). z = [qs A | qs B | qs C
// | qs D]; its low nibbles are elements 0-15 of each block, its high nibbles
// 16-31, so the activation is reordered the same way once. Q5_0's fifth bits
// (qh bit j: element j) go in as two 64-bit byte masks per group, one for the
// low nibbles and one for the high: 16 bits of each block's qh per lane.
// Q4_1 and Q5_1 (kMin): levels are unsigned as stored, with Q8_1
// activations; the block's m times the activation block's sum s (both f16
// fields at byte 2) is added per block, 16 blocks by one fma.
template <class BlockT, bool kFifth, bool kMin = false>
struct GQ4 {
  using Block = BlockT;
  using ActBlock = std::conditional_t<kMin, BlockQ8_1, BlockQ8_0>;
  static constexpr bool kHasMin = kMin;
  static constexpr int kOffset = kMin ? 0 : kFifth ? 16 : 8;  // u = q + kOffset is unsigned
  struct Act {
    __m512i lo[4], hi[4];  // activation bytes of elements 0-15 / 16-31 of each block of group g
    __m512i init[4];       // -kOffset * sum(a) per 4-byte lane: the dot's start value
    __m512 d;              // the 16 activation scales
    __m512 s;              // kMin: the 16 activation sums d * sum(q)
  };
  // The activation's 16 blocks at a (kTail: only the first n exist; the
  // rest read as zeros).
  template <bool kTail = false>
  static void prep(const ActBlock* a, Act& out, int n = kBatch) {
    for (int g = 0; g < 4; ++g) act_group<kTail>(a + 4 * g, n - 4 * g, kOffset, out.lo[g], out.hi[g], out.init[g]);
    const auto* bytes = reinterpret_cast<const uint8_t*>(a);
    out.d = scales16<sizeof(ActBlock), kTail>(bytes, n * sizeof(ActBlock));
    if constexpr (kMin) out.s = scales16<sizeof(ActBlock), kTail, 2>(bytes, n * sizeof(ActBlock));
  }
  // 4 blocks from w, scaled by sc (16 blocks' d_w * d_a), into acc; kTail:
  // only the first n exist.
  template <bool kTail = false>
  static void group(const Block* w, const Act& a, int g, __m512 sc, __m512& acc, int n = 4) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512i z = _mm512_castsi128_si512(load16<kTail>(w[0].qs));
    z = _mm512_inserti32x4(z, load16<kTail>(w[1].qs, n > 1), 1);
    z = _mm512_inserti32x4(z, load16<kTail>(w[2].qs, n > 2), 2);
    z = _mm512_inserti32x4(z, load16<kTail>(w[3].qs, n > 3), 3);
    __m512i lo = _mm512_and_si512(z, m4);
    __m512i hi = _mm512_and_si512(_mm512_srli_epi16(z, 4), m4);
    if constexpr (kFifth) {
      uint64_t mlo = 0, mhi = 0;
      for (int k = 0; k < 4; ++k) {
        if (kTail && k >= n) break;
        uint16_t h[2];
        std::memcpy(h, w[k].qh, 4);
        mlo |= uint64_t{h[0]} << (16 * k);
        mhi |= uint64_t{h[1]} << (16 * k);
      }
      const __m512i bit4 = _mm512_set1_epi8(0x10);
      lo = _mm512_mask_add_epi8(lo, mlo, lo, bit4);
      hi = _mm512_mask_add_epi8(hi, mhi, hi, bit4);
    }
    const __m512i dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(a.init[g], lo, a.lo[g]), hi, a.hi[g]);
    const __m512 s = _mm512_permutexvar_ps(_mm512_load_si512(kLaneIdx.by4[g]), sc);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), s, acc);
  }
};
using GQ4_0 = GQ4<BlockQ4_0, false>;
using GQ5_0 = GQ4<BlockQ5_0, true>;
using GQ4_1 = GQ4<BlockQ4_1, false, true>;
using GQ5_1 = GQ4<BlockQ5_1, true, true>;

// Q8_0: two blocks per zmm in element order; u = q ^ 0x80 = q + 128 is
// unsigned for vpdpbusd and the 128 * sum(a) it adds is the start value.
struct GQ8_0 {
  using Block = BlockQ8_0;
  using ActBlock = BlockQ8_0;
  static constexpr bool kHasMin = false;
  struct Act {
    __m512i q[8];     // [block 2m | block 2m+1] activation bytes
    __m512i init[8];  // -128 * sum(a) per 4-byte lane
    __m512 d;
  };
  template <bool kTail = false>
  static void prep(const BlockQ8_0* a, Act& out, int n = kBatch) {
    const __m512i k128 = _mm512_set1_epi8(static_cast<char>(0x80));
    for (int m = 0; m < 8; ++m) {
      const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(load32<kTail>(a[2 * m].qs, 2 * m < n)),
                                           load32<kTail>(a[2 * m + 1].qs, 2 * m + 1 < n), 1);
      out.q[m] = q;
      out.init[m] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), k128, q));
    }
    out.d = scales16<sizeof(BlockQ8_0), kTail>(reinterpret_cast<const uint8_t*>(a), n * sizeof(BlockQ8_0));
  }
  template <bool kTail = false>
  static void group(const Block* w, const Act& a, int g, __m512 sc, __m512& acc, int n = 4) {
    const __m512i k128 = _mm512_set1_epi8(static_cast<char>(0x80));
    for (int h = 0; h < 2; ++h) {
      if (kTail && 2 * h >= n) break;
      const int m = 2 * g + h;
      const __m512i u = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(load32<kTail>(w[2 * h].qs)),
                                                            load32<kTail>(w[2 * h + 1].qs, 2 * h + 1 < n), 1),
                                         k128);
      const __m512i dot = _mm512_dpbusd_epi32(a.init[m], u, a.q[m]);
      const __m512 s = _mm512_permutexvar_ps(_mm512_load_si512(kLaneIdx.by8[m]), sc);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), s, acc);
    }
  }
};

template <class G>
struct Gemv {
  using Block = typename G::Block;
  using Act = typename G::Act;
  static constexpr int S = sizeof(Block);

  // One batch (16 blocks) of NR rows starting at w[r].
  // pf_len: bytes of each row to prefetch from this batch on (this batch's,
  // and the last full batch also the partial one's after it).
  template <int NR>
  static void batch(const uint8_t* const (&w)[NR], const Act& a, __m512 (&acc)[NR], size_t pf, size_t pf_len) {
    // Into L2: the next tile is NR rows (9 KB at K = 4096) ahead, a distance
    // that grows with K, so L1 would be too small for large K (T0 and T1
    // measured alike).
    tiles::prefetch_ahead(w, pf, pf_len);
    __m512 sc[NR];
    for (int r = 0; r < NR; ++r) sc[r] = _mm512_mul_ps(scales16<S>(w[r]), a.d);
    if constexpr (G::kHasMin) {
      for (int r = 0; r < NR; ++r) acc[r] = _mm512_fmadd_ps(scales16<S, false, 2>(w[r]), a.s, acc[r]);
    }
    for (int g = 0; g < 4; ++g) {
      for (int r = 0; r < NR; ++r) G::group(reinterpret_cast<const Block*>(w[r]) + 4 * g, a, g, sc[r], acc[r]);
    }
  }

  // Rows [r0, r0 + NR), blocks [k0, k0 + nblk) against the prepared act;
  // y[r] = sum (add == false) or y[r] + sum.
  template <int NR>
  static void rows(const MatmulArgs& p, int64_t r0, int64_t k0, int64_t nblk, const Act* act, float* y, bool add) {
    const uint8_t* w[NR];
    tiles::tile_rows(p, r0, k0 * S, w);
    __m512 acc[NR];
    for (auto& v : acc) v = _mm512_setzero_ps();
    const int64_t nfull = nblk / kBatch;
    // Software prefetch of the next tile's rows at the same K position
    // (when this call has a next tile): the hardware prefetcher alone left
    // too few lines in flight per core.
    // The last full batch also prefetches the partial one: down matrices
    // (K = 1408: 44 blocks, 12 past the full batches) ran at ~70% of the
    // speed at K = 2048 with those blocks cold. (Prefetching in the partial
    // batch itself cost short rows more than it gained: K = 192, 22 -> 13
    // GB/s.)
    const size_t pf = tiles::next_tile<NR>(p, r0);
    const int tail = static_cast<int>(nblk - nfull * kBatch);
    for (int64_t b = 0; b < nfull; ++b) {
      batch<NR>(w, act[b], acc, pf, (b + 1 < nfull ? kBatch : kBatch + tail) * S);
      for (auto& q : w) q += kBatch * S;
    }
    if (tail > 0) {
      // Partial last batch, read in place with masked loads: only its
      // groups that hold blocks run.
      const Act& a = act[nfull];
      __m512 sc[NR];
      for (int r = 0; r < NR; ++r) sc[r] = _mm512_mul_ps(scales16<S, true>(w[r], tail * S), a.d);
      if constexpr (G::kHasMin) {
        for (int r = 0; r < NR; ++r) acc[r] = _mm512_fmadd_ps(scales16<S, true, 2>(w[r], tail * S), a.s, acc[r]);
      }
      for (int g = 0; 4 * g < tail; ++g) {
        for (int r = 0; r < NR; ++r) {
          G::template group<true>(reinterpret_cast<const Block*>(w[r]) + 4 * g, a, g, sc[r], acc[r], tail - 4 * g);
        }
      }
    }
    for (int r = 0; r < NR; ++r) {
      const float s = _mm512_reduce_add_ps(acc[r]);
      y[r0 + r] = add ? y[r0 + r] + s : s;
    }
  }

  // gemv_driver.h's interface.
  using ActBlock = typename G::ActBlock;
  static constexpr int kUnit = kBatch;
  static constexpr int kPassUnits = kPassBatches;
  static constexpr int kRows = kTileRows;
  static void prep(const ActBlock* a, int n, Act& out) {
    if (n == kBatch) {
      G::prep(a, out);
    } else {
      G::template prep<true>(a, out, n);
    }
  }
};

}  // namespace

void fill_avx512_legacy_gemv(KernelTable& t) {
  t.fmt[format_index(QType::Q4_0)].gemv = tiles::gemv_passes<Gemv<GQ4_0>>;
  t.fmt[format_index(QType::Q8_0)].gemv = tiles::gemv_passes<Gemv<GQ8_0>>;
  t.fmt[format_index(QType::Q5_0)].gemv = tiles::gemv_passes<Gemv<GQ5_0>>;
  t.fmt[format_index(QType::Q4_1)].gemv = tiles::gemv_passes<Gemv<GQ4_1>>;
  t.fmt[format_index(QType::Q5_1)].gemv = tiles::gemv_passes<Gemv<GQ5_1>>;
  // Q4_0's and Q8_0's own GEMMs (q_legacy_gemm.cpp, q8_0_exact.cpp) give
  // each output the GEMV's floats already; the others' tile GEMM does not.
  tiles::FewColsGemm<Gemv<GQ5_0>>::install(t.fmt[format_index(QType::Q5_0)]);
  tiles::FewColsGemm<Gemv<GQ4_1>>::install(t.fmt[format_index(QType::Q4_1)]);
  tiles::FewColsGemm<Gemv<GQ5_1>>::install(t.fmt[format_index(QType::Q5_1)]);
}

}  // namespace moerun
