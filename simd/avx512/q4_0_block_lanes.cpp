// AVX-512 VNNI Q4_0 x Q8_0 for decode: the GEMV (one activation row) and
// the GEMM of activation rows that are not packed (matmul below 16 rows;
// the experts of a decode step, 1-8 tokens each in batched decode), one
// kernel for both, with the 16 blocks of a batch in the 16 dword lanes. The
// packed prefill GEMM is q_legacy_gemm_lanes.cpp.
//
// Why blocks in lanes: the layout before (q_legacy_gemv.cpp's, four lanes
// per block) turned every group of 4 blocks into floats on its own: per
// weight row, activation column and 128 weights, 2 vpdpbusd + convert +
// multiply + fma, so with a few columns the float work, not the memory,
// bounded batched decode. Here the batch's nibbles are transposed once per
// row (4 dwords x 4 blocks in each 128-bit lane: 8 unpacks), so one int32
// lane sums a whole block: per row, column and 512 weights, 8 vpdpbusd +
// convert + multiply + fma. Measured on Zen 5, 2 threads (bench_kernels, K
// 2048, a 4096-row slice; B = 2, 3, 4, 8): 277, 346, 410, 428 -> 330-402,
// 418-443, 472-482, 572-664 GOP/s; ds2-lite Q4_0 `bench --batch 8`,
// alternating: 37.2 -> 42.5 tokens/s; single-sequence decode unchanged
// (memory-bound either way).
//
// Layout of a batch (16 blocks) of weights or activation: its blocks' 16
// quant bytes loaded as z_m = [block m | m + 4 | m + 8 | m + 12] (four
// 128-bit lanes), then transposed by dwords within each 128-bit lane, so
// t_k's lane j holds bytes 4k..4k+3 of block j. A weight byte's low nibble
// is element i, its high nibble element i + 16 (ggml's order); the
// activation's bytes 0-15 and 16-31 go through the same transposition, so
// the two line up. The dot starts at -8 x sum(a) per block (the nibble is
// q + 8).
//
// Every output is summed alike whatever the tile or B: per batch an exact
// int32 dot per lane, acc = fma(float(dot), d_w x d_a, acc) in batch order,
// one reduction per pass of kPassBatches, added into y after the first
// pass. So each activation row gets the GEMV's floats: a sequence's greedy
// answer does not depend on what shares its decode step.
// Exactness: per lane 32 products |u a| <= 15 x 128 and a start value
// |8 x sum(a)| <= 8 x 32 x 128, below 2^24, so neither the int32 dot nor
// its conversion rounds.
// GCC 12's AVX-512 headers read a deliberately undefined vector in
// _mm512_reduce_* and _mm512_cvtph_ps, which -Wuninitialized flags at every
// use; the value never reaches a result.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "quant/q4_0.h"
#include "quant/q8_0.h"
#include "simd/avx512/avx512.h"
#include "simd/avx512/batch16.h"
#include "simd/tile_driver.h"

namespace moerun {
namespace {

constexpr int kMaxCols = 8;        // activation columns per tile
// Weight rows per tile for nc columns (rows() below says why).
constexpr int tile_rows(int nc) { return nc <= 2 ? 4 : nc <= 4 ? 2 : 1; }
constexpr int64_t kRowTile = 64;   // rows of one tile pass: ~72 KB at K = 2048, kept in L2 over the column groups
// Software prefetch distance in rows: two 4-row GEMV tiles. One tile (the
// four-lanes GEMV's distance) kept too few lines in flight on Zen 5, 2
// threads, alternating runs of bench: ds2-lite Q4_0 tg64 median 22.3 -> 23.7
// tokens/s (12 rows: 23.5), qwen3-30b-a3b Q4_0 14.2-17.2 -> 17.0-18.1.
// Short rows need more of them for as many bytes in flight: at least
// kAheadBytes (8 rows at K = 2048). bench_kernels, 2 threads: K = 512 30.8
// -> 40.2 GB/s; alternating runs of bench tg64 (with short_rows below):
// ds2-lite Q4_0 25.7 -> 27.3 tokens/s, qwen3-30b-a3b Q4_0 (down rows K =
// 768) 19.6 -> 20.8.
constexpr int64_t kAheadRows = 8;
constexpr int64_t kAheadBytes = 8 * 1152;

// Rows to prefetch ahead for rows of `stride` bytes: once per call.
int64_t ahead_rows(size_t stride) {
  const auto s = static_cast<int64_t>(stride);
  return std::max(kAheadRows, (kAheadBytes + s - 1) / s);
}

constexpr int kPairMax = kBatch / 2;  // a partial batch of at most this many blocks runs two rows at a time (tail_pairs)
constexpr int kWS = sizeof(BlockQ4_0);  // 18
constexpr int kAS = sizeof(BlockQ8_0);  // 34

// t_k (lane j = bytes 4k..4k+3 of block j) of the 16 bytes at offset `off`
// of each of 16 S-byte blocks at p; kTail: only the first n blocks exist,
// the rest read as zeros.
template <class Blk>
[[gnu::always_inline]] inline void transpose16(Blk blk, __m512i (&t)[4]) {
  const __m512i z0 = join4(blk(0), blk(4), blk(8), blk(12));
  const __m512i z1 = join4(blk(1), blk(5), blk(9), blk(13));
  const __m512i z2 = join4(blk(2), blk(6), blk(10), blk(14));
  const __m512i z3 = join4(blk(3), blk(7), blk(11), blk(15));
  const __m512i a = _mm512_unpacklo_epi32(z0, z1), b = _mm512_unpackhi_epi32(z0, z1);
  const __m512i c = _mm512_unpacklo_epi32(z2, z3), d = _mm512_unpackhi_epi32(z2, z3);
  t[0] = _mm512_unpacklo_epi64(a, c);
  t[1] = _mm512_unpackhi_epi64(a, c);
  t[2] = _mm512_unpacklo_epi64(b, d);
  t[3] = _mm512_unpackhi_epi64(b, d);
}

template <int S, bool kTail>
[[gnu::always_inline]] inline void lanes16(const uint8_t* p, int n, __m512i (&t)[4]) {
  transpose16([&](int j) { return load16<kTail>(p + j * S, j < n); }, t);
}

// The last n <= 8 blocks of two rows as one batch: p0's in lanes 0-7, p1's
// in lanes 8-15 (the rest read as zeros).
template <int S>
[[gnu::always_inline]] inline void lanes16_pair(const uint8_t* p0, const uint8_t* p1, int n, __m512i (&t)[4]) {
  transpose16([&](int j) { return j < 8 ? load16<true>(p0 + j * S, j < n) : load16<true>(p1 + (j - 8) * S, j - 8 < n); },
              t);
}

// One column's batch of 16 activation blocks.
struct Act {
  __m512i lo[4], hi[4];  // bytes 0-15 / 16-31 of each block, as lanes16 leaves them
  __m512i init;          // -8 x sum(a) of block j in lane j
  __m512 d;              // the scale of block j in lane j
};

// The prepared batches of a call's columns: column c's batch b at
// base[c * per_col + b], from column c0 on.
struct ActCols {
  const Act* base;
  int64_t per_col;
  const Act& at(int c, int b) const { return base[c * per_col + b]; }
  ActCols from(int64_t c0) const { return {base + c0 * per_col, per_col}; }
};

template <bool kTail>
void prep(const BlockQ8_0* a, int n, Act& out) {
  const auto* q = reinterpret_cast<const uint8_t*>(a[0].qs);
  lanes16<kAS, kTail>(q, n, out.lo);
  lanes16<kAS, kTail>(q + 16, n, out.hi);
  const __m512i eight = _mm512_set1_epi8(8);
  __m512i s = _mm512_setzero_si512();
  for (int k = 0; k < 4; ++k) s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(s, eight, out.lo[k]), eight, out.hi[k]);
  out.init = _mm512_sub_epi32(_mm512_setzero_si512(), s);
  out.d = scales16<kAS, kTail>(reinterpret_cast<const uint8_t*>(a), n * kAS);
}

// A transposed batch's low and high nibbles (elements i and i + 16 of each block).
[[gnu::always_inline]] inline void nibbles(const __m512i (&t)[4], __m512i (&lo)[4], __m512i (&hi)[4]) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  for (int k = 0; k < 4; ++k) {
    lo[k] = _mm512_and_si512(t[k], m4);
    hi[k] = _mm512_and_si512(_mm512_srli_epi16(t[k], 4), m4);
  }
}

// Lane j: the exact int32 dot of block j's weights and activation.
[[gnu::always_inline]] inline __m512i block_dots(const __m512i (&lo)[4], const __m512i (&hi)[4], const Act& a) {
  __m512i dot = a.init;
  for (int k = 0; k < 4; ++k) dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(dot, lo[k], a.lo[k]), hi[k], a.hi[k]);
  return dot;
}

// A row's last n <= 8 activation blocks twice, in lanes 0-7 and 8-15: the
// activation of a paired tail (tail_pairs).
void prep_pair(const BlockQ8_0* a, int n, Act& out) {
  BlockQ8_0 rep[kBatch] = {};
  for (int j = 0; j < kBatch; ++j) {
    if (j % 8 < n) rep[j] = a[j % 8];
  }
  prep<false>(rep, kBatch, out);
}

// Lanes 8-15 of v in lanes 0-7 (and 0-7 in 8-15).
[[gnu::always_inline]] inline __m512 swap_halves(__m512 v) { return _mm512_shuffle_f32x4(v, v, 0x4E); }

// The last n <= 8 blocks of NR (even) rows at w[r] x NC columns into acc,
// two rows per batch (tails of K = 768: 24 blocks, qwen3-30b-a3b's expert
// down rows; K = 2816, ds2-lite's shared down rows), against the paired
// activation pa. Each row's lane j gets exactly what the row's own partial
// batch gives it (fma(float(dot), d_w x d_a, acc) for block j, lanes 8-15
// untouched, where a partial batch adds 0 x 0), so the floats do not
// change; a partial batch per row did a full batch's work for half of it
// or less, which made these rows compute-bound. Zen 5, bench_kernels, 1
// thread, matrix in cache, GEMV: K = 768 26.1-26.7 -> 30.9-31.8 GB/s, K =
// 2816 38.4-39.0 -> 40.9-41.4; qwen3-30b-a3b Q4_0 decode, alternating
// runs of `bench -n 64 --profile`: moe stage 37.3-40.1 -> 36.3-36.5 ms per
// token.
template <int NR, int NC>
[[gnu::always_inline]] inline void tail_pairs(const uint8_t* const (&w)[NR], ActCols act, int pa, __m512 (&acc)[NR][NC],
                                              int n, size_t pf) {
  static_assert(NR % 2 == 0);
  tiles::prefetch_ahead(w, pf, static_cast<size_t>(n) * kWS);
  constexpr __mmask16 kLow = 0x00FF;
#pragma GCC unroll 4
  for (int r = 0; r < NR; r += 2) {
    __m512i t[4], lo[4], hi[4];
    lanes16_pair<kWS>(w[r] + 2, w[r + 1] + 2, n, t);
    const __m512 d0 = scales16<kWS, true>(w[r], n * kWS), d1 = scales16<kWS, true>(w[r + 1], n * kWS);
    const __m512 dw = _mm512_shuffle_f32x4(d0, d1, 0x44);  // d0's lanes 0-7, then d1's
    nibbles(t, lo, hi);
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) {
      const Act& a = act.at(c, pa);
      const __m512 v = _mm512_cvtepi32_ps(block_dots(lo, hi, a)), sc = _mm512_mul_ps(dw, a.d);
      acc[r][c] = _mm512_mask3_fmadd_ps(v, sc, acc[r][c], kLow);
      acc[r + 1][c] = _mm512_mask3_fmadd_ps(swap_halves(v), swap_halves(sc), acc[r + 1][c], kLow);
    }
  }
}

// Batch b (its first n blocks; kTail: n < 16) of NR rows at w[r] x NC
// columns into acc; pf: prefetch distance in bytes (0: none).
template <int NR, int NC, bool kTail>
[[gnu::always_inline]] inline void batch(const uint8_t* const (&w)[NR], ActCols act, int b,
                                         __m512 (&acc)[NR][NC], int n, size_t pf) {
  tiles::prefetch_ahead(w, pf, static_cast<size_t>(n) * kWS);
#pragma GCC unroll 4
  for (int r = 0; r < NR; ++r) {
    __m512i t[4], lo[4], hi[4];
    lanes16<kWS, kTail>(w[r] + 2, n, t);
    const __m512 dw = scales16<kWS, kTail>(w[r], n * kWS);
    nibbles(t, lo, hi);
#pragma GCC unroll 8
    for (int c = 0; c < NC; ++c) {
      const Act& a = act.at(c, b);
      acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(block_dots(lo, hi, a)), _mm512_mul_ps(dw, a.d), acc[r][c]);
    }
  }
}

// Rows [r0, r0 + NR) x the NC columns at act over blocks [k0, k0 + nblk);
// y = sum (add false) or y + sum; ahead: ahead_rows(p.w_stride).
template <int NR, int NC>
void tile(const MatmulArgs& p, int64_t r0, int64_t c0, int64_t k0, int64_t nblk, ActCols act, int64_t ahead,
          bool add) {
  const uint8_t* w[NR];
  tiles::tile_rows(p, r0, k0 * kWS, w);
  __m512 acc[NR][NC];
  for (auto& row : acc)
    for (auto& v : row) v = _mm512_setzero_ps();
  // Prefetch into L2 kAheadRows rows ahead at the same K position, into
  // the next call's rows when this one ends (n_prefetch): without it a
  // core kept too few lines in flight.
  const size_t pf = r0 + NR + ahead <= tiles::prefetch_rows(p) ? ahead * p.w_stride : 0;
  const int nfull = static_cast<int>(nblk / kBatch);
  for (int b = 0; b < nfull; ++b) {
    batch<NR, NC, false>(w, act, b, acc, kBatch, pf);
    for (auto& q : w) q += kBatch * kWS;
  }
  if (const int tail = static_cast<int>(nblk - int64_t{nfull} * kBatch); tail > 0) {
    if constexpr (NR % 2 == 0) {
      if (tail <= kPairMax) {
        tail_pairs<NR, NC>(w, act, nfull + 1, acc, tail, pf);
        return store_tile(p, r0, c0, acc, add);
      }
    }
    batch<NR, NC, true>(w, act, nfull, acc, tail, pf);
  }
  store_tile(p, r0, c0, acc, add);
}

// Rows [r0, r1) x NC columns: tiles of NR rows (a column's activation is
// reloaded per row from L1, so more columns take fewer rows per tile), the
// rows past the last full tile one at a time. Two-token experts (a quarter
// of the chosen ones in a step of 8 sequences) streamed ~25% slower per
// byte than the GEMV with 2-row tiles; 4 rows for 1-2 columns and 2 for
// 3-4: ds2-lite Q4_0 `bench --batch 8`, 6 rounds alternating, median 45.8
// -> 49.3 tokens/s (same sums per output, so the same floats).
template <int NC>
void rows(const MatmulArgs& p, int64_t r0, int64_t r1, int64_t c0, int64_t k0, int64_t nblk, ActCols act,
          int64_t ahead, bool add) {
  constexpr int NR = tile_rows(NC);
  int64_t r = r0;
  for (; r + NR <= r1; r += NR) tile<NR, NC>(p, r, c0, k0, nblk, act, ahead, add);
  for (; r < r1; ++r) tile<1, NC>(p, r, c0, k0, nblk, act, ahead, add);
}

template <int NC>
void rows_rest(const MatmulArgs& p, int nc, int64_t r0, int64_t r1, int64_t c0, int64_t k0, int64_t nblk,
               ActCols act, int64_t ahead, bool add) {
  if constexpr (NC > 0) {
    if (nc == NC) {
      rows<NC>(p, r0, r1, c0, k0, nblk, act, ahead, add);
    } else {
      rows_rest<NC - 1>(p, nc, r0, r1, c0, k0, nblk, act, ahead, add);
    }
  }
}

// Any B: per pass over K every column's activation is prepared, then each
// tile of kRowTile rows runs every group of kMaxCols columns while it is in
// L2 (one group, and one pass over the rows, for B <= 8).
void gemm(const MatmulArgs& p) {
  constexpr int64_t kPass = int64_t{kPassBatches} * kBatch;
  const int64_t nb = p.K / BlockQ8_0::kSize;
  const int64_t batches = std::min<int64_t>(kPassBatches, (nb + kBatch - 1) / kBatch);
  // Per column: the pass's batches, then the paired tail's activation.
  const int64_t per_col = batches + 1;
  thread_local std::vector<Act> buf;
  if (buf.size() < static_cast<size_t>(p.B * per_col)) buf.resize(static_cast<size_t>(p.B * per_col));
  const ActCols cols{buf.data(), per_col};
  const int64_t ahead = ahead_rows(p.w_stride);
  for (int64_t k0 = 0; k0 < nb; k0 += kPass) {
    const int64_t nblk = std::min(nb - k0, kPass);
    for (int64_t c = 0; c < p.B; ++c) {
      const auto* arow = reinterpret_cast<const BlockQ8_0*>(p.a + c * p.a_stride) + k0;
      Act* out = buf.data() + c * per_col;
      // Only tiles of an even number of rows pair their tails (tile()).
      const int group_cols = static_cast<int>(std::min<int64_t>(kMaxCols, p.B - c / kMaxCols * kMaxCols));
      const bool pairs = tile_rows(group_cols) % 2 == 0;
      for (int64_t j = 0; j * kBatch < nblk; ++j) {
        const int n = static_cast<int>(std::min<int64_t>(kBatch, nblk - j * kBatch));
        if (n == kBatch) {
          prep<false>(arow + j * kBatch, n, out[j]);
        } else {
          prep<true>(arow + j * kBatch, n, out[j]);
          if (pairs && n <= kPairMax) prep_pair(arow + j * kBatch, n, out[j + 1]);
        }
      }
    }
    const bool add = k0 > 0;
    const int64_t row_tile = p.B <= kMaxCols ? p.N : kRowTile;
    for (int64_t r0 = 0; r0 < p.N; r0 += row_tile) {
      const int64_t r1 = std::min(p.N, r0 + row_tile);
      for (int64_t c0 = 0; c0 < p.B; c0 += kMaxCols) {
        const int nc = static_cast<int>(std::min<int64_t>(kMaxCols, p.B - c0));
        rows_rest<kMaxCols>(p, nc, r0, r1, c0, k0, nblk, cols.from(c0), ahead, add);
      }
    }
  }
}

// Lane i x M of the result: the sum of lanes [i x M, (i + 1) x M) of v.
template <int M>
[[gnu::always_inline]] inline __m512 sum_lane_groups(__m512 v) {
  if constexpr (M >= 2) v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));         // pairs
  if constexpr (M >= 4) v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));         // 128-bit lanes
  if constexpr (M >= 8) v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));  // pairs of them
  return v;
}

// Rows of M < 16 blocks lying back to back (MLA's per-head W_kb, K = 128:
// M = 4): a batch's 16 blocks are kBatch / M whole rows, so one
// transposition serves them all and each row's sum is M lanes of one
// vector. Run per row, these rows were compute-bound (bench_kernels, Q4_0 K
// = 128, Zen 5: 12.6 GB/s on one thread, 23 on two; now 37 on two;
// ds2-lite decode mla.absorb_q 1.06 -> 0.62 ms per token). Every column is
// summed alike, so the GEMV and the GEMM still agree.
template <int M>
void short_rows(const MatmulArgs& p) {
  constexpr int R = kBatch / M;  // rows per batch
  // Each column's M blocks repeated R times: lane j meets block j % M.
  thread_local std::vector<Act> buf;
  if (buf.size() < static_cast<size_t>(p.B)) buf.resize(static_cast<size_t>(p.B));
  for (int64_t c = 0; c < p.B; ++c) {
    const auto* a = reinterpret_cast<const BlockQ8_0*>(p.a + c * p.a_stride);
    BlockQ8_0 rep[kBatch];
    for (int j = 0; j < kBatch; ++j) rep[j] = a[j % M];
    prep<false>(rep, kBatch, buf[c]);
  }
  const int64_t stride = static_cast<int64_t>(p.w_stride);
  const int64_t ahead = ahead_rows(p.w_stride);
  const int64_t pf_end = tiles::prefetch_rows(p);
  constexpr __mmask16 heads = [] {  // lane i x M of each row i
    unsigned m = 0;
    for (int i = 0; i < R; ++i) m |= 1u << (i * M);
    return static_cast<__mmask16>(m);
  }();
  for (int64_t r0 = 0; r0 < p.N; r0 += R) {
    const int nr = static_cast<int>(std::min<int64_t>(R, p.N - r0));
    const uint8_t* w = p.w + r0 * stride;
    if (r0 + R + ahead <= pf_end) {
      for (int64_t o = 0; o < R * stride; o += 64) __builtin_prefetch(w + ahead * stride + o, 0, 2);
    }
    __m512i t[4];
    __m512 dw;
    if (nr == R) {
      lanes16<kWS, false>(w + 2, kBatch, t);
      dw = scales16<kWS, false>(w);
    } else {
      lanes16<kWS, true>(w + 2, nr * M, t);
      dw = scales16<kWS, true>(w, nr * M * kWS);
    }
    __m512i lo[4], hi[4];
    nibbles(t, lo, hi);
    const __mmask16 store = nr == R ? heads : static_cast<__mmask16>(heads & ((1u << (nr * M)) - 1));
    for (int64_t c = 0; c < p.B; ++c) {
      const Act& a = buf[c];
      const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(block_dots(lo, hi, a)), _mm512_mul_ps(dw, a.d));
      _mm512_mask_compressstoreu_ps(tiles::out_row(p, c) + r0, store, sum_lane_groups<M>(v));
    }
  }
}

// Other rows shorter than one batch (K < 512 and not a divisor of it, or
// rows with gaps between them) keep the four-lanes-per-block kernels
// (q_legacy_gemv.cpp, q_legacy_gemm.cpp): a transposition per row for a
// few blocks cost more than the float work it saves (ds2-lite decode,
// mla.absorb_q 0.9 -> 1.8 ms per token). Chosen by K and the row stride
// alone, so the GEMV and the GEMM still agree.
GemmFn g_short_gemv = nullptr;
GemmFn g_short_gemm = nullptr;

template <GemmFn* kShort>
void entry(const MatmulArgs& p) {
  const int64_t m = p.K / BlockQ4_0::kSize;
  if (m >= kBatch) return gemm(p);
  if (p.w_stride == static_cast<size_t>(m * kWS)) {
    switch (m) {
      case 1: return short_rows<1>(p);
      case 2: return short_rows<2>(p);
      case 4: return short_rows<4>(p);
      case 8: return short_rows<8>(p);
      default: break;
    }
  }
  (*kShort)(p);
}

}  // namespace

// Call after the four-lanes GEMV and GEMM are installed.
void fill_avx512_q4_0_block_lanes(KernelTable& t) {
  FormatKernels& f = t.fmt[format_index(QType::Q4_0)];
  g_short_gemv = f.gemv;
  g_short_gemm = f.gemm;
  f.gemv = entry<&g_short_gemv>;
  f.gemm = entry<&g_short_gemm>;
}

}  // namespace moerun
