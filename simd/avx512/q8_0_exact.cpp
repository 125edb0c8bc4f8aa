// AVX-512 VNNI GEMV and GEMM for Q8_0 weights x Q8_0 activations whose
// floats are bit-identical to the scalar reference (quant/q8_0.h), which is
// ggml's portable dot: per row, blocks in order, sum += sumi * (dw * da).
//
// Why: a tiny MoE is so sensitive that a last-bit difference in one matmul
// output moves a level of the next int8 activation quantization, or a routing
// choice, and the logits then differ from llama.cpp's by KL ~1e-4..1e-2. The
// integer block sums are exact in any order; the float multiply and add per
// block are not, so they must run in ggml's order, one block after another.
//
// How: lanes are weight rows. A tile is 16 rows; for each block the 16 rows'
// 32 bytes are loaded and transposed so that zmm k holds dword k of every
// row (8 zmm). Then, per activation column, 8 vpdpbusd with the column's
// dword k broadcast leave each row's whole block sum in its own lane, and
// one convert, multiply and add apply the block in order. The transpose
// (~32 shuffles per block and 16 rows) is made once per pass over K and
// kept for every column (gemm), so a GEMM pays ~13 ops per column,
// block and 16 rows; the decode GEMV pays the transpose for its one column
// but stays under the memory stream. bench_kernels, 1 thread, K 4096: GEMV
// 26 GB/s (the earlier 4-lane kernel 24), GEMM B=16 250 GOP/s (200), B=64
// 340 (370, the retired packed kernel); from 16 columns the rows-in-lanes
// packed GEMM, in this order too, takes over (q_legacy_gemm_lanes.cpp:
// 32 rows per broadcast). Weights are unsigned (q ^ 0x80 = q + 128), so
// each column's block starts from -128 * sum(a), prepared once per pass.
// Exactness of the int32 sums: |sum (q + 128) a| <= 32 * 255 * 128 < 2^21.
// GCC 12's AVX-512 headers read a deliberately undefined vector in
// _mm512_cvtph_ps, which -Wuninitialized flags; the value never reaches a
// result.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "quant/q8_0.h"
#include "simd/avx512/avx512.h"
#include "simd/tile_driver.h"

namespace moerun {
namespace {

constexpr int kRows = 16;        // weight rows per tile: one per lane
constexpr int kMaxCols = 12;     // activation columns per tile
constexpr int kPassBlocks = 64;  // blocks per pass over K (2048 weights)

// What one column needs per block of a pass: -128 * sum(a) and a's scale.
struct ColPrep {
  int32_t bias[kPassBlocks];
  float d[kPassBlocks];
};

void prep(const BlockQ8_0* a, int nblk, ColPrep& out) {
  const __m256i ones = _mm256_set1_epi8(1);
  for (int b = 0; b < nblk; ++b) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs));
    // Sum of 32 signed bytes: pairs into int16, then into int32.
    const __m256i s16 = _mm256_maddubs_epi16(ones, q);
    const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    out.bias[b] = -128 * _mm_cvtsi128_si32(s);
    out.d[b] = f16_to_f32(a[b].d);
  }
}

// t[k] = dword k of the 32 level bytes at row[r] + off for the 16 rows, as
// unsigned bytes (q + 128).
[[gnu::always_inline]] inline void load_transposed(const uint8_t* const* row, size_t off, __m512i t[8]) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i z[8];
  for (int r = 0; r < 8; ++r) {
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row[r] + off));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row[r + 8] + off));
    z[r] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), flip);
  }
  // Each 256-bit half is an 8 x 8 dword matrix (rows r and r + 8): the
  // usual unpack transpose, then 128-bit quarters regrouped by vpermt2q.
  __m512i u[8];
  for (int i = 0; i < 4; ++i) {
    u[2 * i] = _mm512_unpacklo_epi32(z[2 * i], z[2 * i + 1]);
    u[2 * i + 1] = _mm512_unpackhi_epi32(z[2 * i], z[2 * i + 1]);
  }
  __m512i v[8];
  for (int i = 0; i < 2; ++i) {
    // rows 4i..4i+3: dwords (0,4), (1,5), (2,6), (3,7) per 128-bit quarter
    v[4 * i + 0] = _mm512_unpacklo_epi64(u[4 * i], u[4 * i + 2]);
    v[4 * i + 1] = _mm512_unpackhi_epi64(u[4 * i], u[4 * i + 2]);
    v[4 * i + 2] = _mm512_unpacklo_epi64(u[4 * i + 1], u[4 * i + 3]);
    v[4 * i + 3] = _mm512_unpackhi_epi64(u[4 * i + 1], u[4 * i + 3]);
  }
  const __m512i lo_idx = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i hi_idx = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  for (int k = 0; k < 4; ++k) {
    t[k] = _mm512_permutex2var_epi64(v[k], lo_idx, v[4 + k]);
    t[k + 4] = _mm512_permutex2var_epi64(v[k], hi_idx, v[4 + k]);
  }
}

// The 16 rows of a tile from row r0, at block k0 (lanes past N repeat row
// r0 and are never stored), and a dword gather of their blocks' f16 scales.
struct RowTile {
  const uint8_t* row[kRows];
  const uint8_t* base;  // row r0 at block k0
  __m512i vindex;       // byte offset of each lane's row from base
  __mmask16 live;       // lanes that are rows
  void init(const MatmulArgs& p, int64_t r0, int64_t k0) {
    const int nrows = static_cast<int>(std::min<int64_t>(kRows, p.N - r0));
    live = static_cast<__mmask16>((1u << nrows) - 1);
    base = p.w + r0 * p.w_stride + k0 * sizeof(BlockQ8_0);
    alignas(64) int32_t offs[kRows];
    for (int r = 0; r < kRows; ++r) {
      const int64_t rr = r < nrows ? r : 0;
      row[r] = base + rr * p.w_stride;
      offs[r] = static_cast<int32_t>(rr * p.w_stride);
    }
    vindex = _mm512_load_si512(offs);
  }
  // The scales of block b: d and the first two levels gathered, truncated to words.
  __m512 scales(int b) const {
    const __m512i dw32 = _mm512_i32gather_epi32(vindex, base + static_cast<size_t>(b) * sizeof(BlockQ8_0), 1);
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dw32));
  }
};

// acc (16 rows) += sumi * (dw * da) for block b of one column, whose levels
// are at qa: ggml's order, one block after another.
[[gnu::always_inline]] inline __m512 add_block(__m512 acc, const __m512i (&t)[8], __m512 dw, const uint8_t* qa,
                                               const ColPrep& cp, int b) {
  __m512i s = _mm512_set1_epi32(cp.bias[b]);
  for (int k = 0; k < 8; ++k) {
    int32_t ak;
    std::memcpy(&ak, qa + 4 * k, 4);
    s = _mm512_dpbusd_epi32(s, t[k], _mm512_set1_epi32(ak));
  }
  const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(cp.d[b]));
  return _mm512_add_ps(acc, _mm512_mul_ps(_mm512_cvtepi32_ps(s), dd));
}

// The levels of column c at block k0 of its row.
inline const uint8_t* act_levels(const MatmulArgs& p, int64_t c, int64_t k0) {
  return p.a + c * p.a_stride + k0 * sizeof(BlockQ8_0) + 2;
}

// Decode (B == 1): rows transposed block by block as they stream past; the
// running sums start from y when k0 > 0, so passes continue ggml's order.
void gemv_tile(const MatmulArgs& p, int64_t r0, int64_t k0, int nblk, const ColPrep& cp) {
  RowTile rt;
  rt.init(p, r0, k0);
  float* y = tiles::out_row(p, 0) + r0;
  __m512 acc = k0 == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(rt.live, y);
  const uint8_t* qa = act_levels(p, 0, k0);
  const uint8_t* next = r0 + 2 * kRows <= tiles::prefetch_rows(p) ? rt.base + kRows * p.w_stride : nullptr;
  for (int b = 0; b < nblk; ++b) {
    const size_t off = static_cast<size_t>(b) * sizeof(BlockQ8_0);
    if (next != nullptr) {
      // Decode streams 16 rows at once, and the hardware prefetcher alone
      // left the GEMV at ~45% of the triad: fetch the next tile's rows at
      // this K position, a tile (16 rows x the pass) ahead.
      for (int r = 0; r < kRows; ++r) __builtin_prefetch(next + r * p.w_stride + off, 0, 2);
    }
    __m512i t[8];
    load_transposed(rt.row, off + 2, t);
    acc = add_block(acc, t, rt.scales(b), qa + off, cp, b);
  }
  _mm512_mask_storeu_ps(y, rt.live, acc);
}

void gemv(const MatmulArgs& p) {
  const int64_t nb = p.K / BlockQ8_0::kSize;
  ColPrep cp;
  for (int64_t k0 = 0; k0 < nb; k0 += kPassBlocks) {
    const int nblk = static_cast<int>(std::min<int64_t>(kPassBlocks, nb - k0));
    prep(reinterpret_cast<const BlockQ8_0*>(act_levels(p, 0, k0) - 2), nblk, cp);
    for (int64_t r0 = 0; r0 < p.N; r0 += kRows) gemv_tile(p, r0, k0, nblk, cp);
  }
}

// GEMM (B > 1): the transposed blocks of a call's rows (matmul.cpp hands
// out 64 rows at a time) are made once per pass over K and kept, so every
// column tile reuses them instead of transposing again: 16 rows x 64 blocks
// x 8 zmm = 32 KB per row tile, ~130 KB per call, in L2.
struct TileCache {
  __m512i t[kPassBlocks][8];
  __m512 dw[kPassBlocks];
  __mmask16 live;
};

void fill_cache(const MatmulArgs& p, int64_t r0, int64_t k0, int nblk, TileCache& tc) {
  RowTile rt;
  rt.init(p, r0, k0);
  tc.live = rt.live;
  for (int b = 0; b < nblk; ++b) {
    tc.dw[b] = rt.scales(b);
    load_transposed(rt.row, static_cast<size_t>(b) * sizeof(BlockQ8_0) + 2, tc.t[b]);
  }
}

template <int NC>
void tile_cached(const MatmulArgs& p, int64_t r0, int64_t c0, int64_t k0, int nblk, const ColPrep* cp,
                 const TileCache& tc) {
  float* y[NC];
  __m512 acc[NC];
  const uint8_t* act[NC];
  for (int c = 0; c < NC; ++c) {
    y[c] = tiles::out_row(p, c0 + c) + r0;
    acc[c] = k0 == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(tc.live, y[c]);
    act[c] = act_levels(p, c0 + c, k0);
  }
  for (int b = 0; b < nblk; ++b) {
    const size_t off = static_cast<size_t>(b) * sizeof(BlockQ8_0);
    for (int c = 0; c < NC; ++c) acc[c] = add_block(acc[c], tc.t[b], tc.dw[b], act[c] + off, cp[c], b);
  }
  for (int c = 0; c < NC; ++c) _mm512_mask_storeu_ps(y[c], tc.live, acc[c]);
}

template <int NC>
void cols_cached(const MatmulArgs& p, int64_t c0, int64_t k0, int nblk, ColPrep* cp, const TileCache* cache) {
  for (int c = 0; c < NC; ++c) prep(reinterpret_cast<const BlockQ8_0*>(act_levels(p, c0 + c, k0) - 2), nblk, cp[c]);
  for (int64_t r0 = 0, t = 0; r0 < p.N; r0 += kRows, ++t) tile_cached<NC>(p, r0, c0, k0, nblk, cp, cache[t]);
}

template <int NC>
void cols_cached_rest(const MatmulArgs& p, int64_t c0, int64_t k0, int nblk, ColPrep* cp, const TileCache* cache,
                      int64_t rest) {
  if constexpr (NC > 0) {
    if (rest == NC) {
      cols_cached<NC>(p, c0, k0, nblk, cp, cache);
      return;
    }
    cols_cached_rest<NC - 1>(p, c0, k0, nblk, cp, cache, rest);
  }
}

void gemm(const MatmulArgs& p) {
  const int64_t nb = p.K / BlockQ8_0::kSize;
  const int64_t n_tiles = (p.N + kRows - 1) / kRows;
  thread_local std::vector<TileCache> cache;  // grows to the largest call once per thread
  if (static_cast<int64_t>(cache.size()) < n_tiles) cache.resize(static_cast<size_t>(n_tiles));
  ColPrep cp[kMaxCols];
  for (int64_t k0 = 0; k0 < nb; k0 += kPassBlocks) {
    const int nblk = static_cast<int>(std::min<int64_t>(kPassBlocks, nb - k0));
    for (int64_t t = 0; t < n_tiles; ++t) fill_cache(p, t * kRows, k0, nblk, cache[t]);
    int64_t c0 = 0;
    for (; c0 + kMaxCols <= p.B; c0 += kMaxCols) cols_cached<kMaxCols>(p, c0, k0, nblk, cp, cache.data());
    if (c0 < p.B) cols_cached_rest<kMaxCols - 1>(p, c0, k0, nblk, cp, cache.data(), p.B - c0);
  }
}

float dot(int64_t n, const void* w, const void* a) { return vec_dot_q8_0_q8_0(n, w, a); }

}  // namespace

void fill_avx512_q8_0_exact(KernelTable& t) {
  FormatKernels& f = t.fmt[format_index(QType::Q8_0)];
  f.dot = dot;
  f.gemv = gemv;
  f.gemm = gemm;
  // The packed GEMM of the other formats fuses each block's multiply and
  // add; fill_avx512_q8_0_exact_lanes installs its exact form after this.
  f.packed_act_bytes = nullptr;
  f.pack_act = nullptr;
  f.gemm_packed = nullptr;
}

}  // namespace moerun
