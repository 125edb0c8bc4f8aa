// The walk of the AVX-512 GEMMs with weight rows across the lanes
// (q_legacy_gemm_lanes.cpp, q4_k_gemm_lanes.cpp): a zmm holds 4 weight
// bytes of each of 16 rows, and 4 bytes of one activation column are
// broadcast to it, so each broadcast serves 32 rows (two vectors) and each
// weight vector several columns. Activations are packed once per matmul,
// per column; each tile of 32 weight rows x one pass of blocks is
// transposed into a stack buffer, and every column of the call runs
// against it before the next pass. Sums of earlier passes wait in a buffer
// of 32 floats per column; the last pass writes them to their output rows.
// Include only from simd/avx512/ (needs its flags); everything is in an
// anonymous namespace, as each file's kernels.
//
// A Kern provides:
//   Block, RowBlock, ColBlock   weight block; its 16-row transposed form;
//                               one column's packed block
//   kPassBlocks, kMaxCols       blocks per pass; columns per register tile
//   static void unpack(const Rows16&, const uint8_t* block0, RowBlock&)
//                               16 rows' block (row r's at block0 + r * stride)
//   template <int G, int C> static void tile(const RowBlock* const (&w)[2],
//       int nbp, const ColBlock* a, int64_t nb, float* part)
//                               G row vectors x C columns over nbp blocks:
//                               column c's blocks from a + c * nb, its sums
//                               at part + c * 32 (row vector g: + 16 g)
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "simd/dispatch.h"
#include "simd/tile_driver.h"

namespace moerun {
namespace {

constexpr int kRowLanes = 16;  // weight rows per vector
constexpr int kGroups = 2;     // row vectors per tile: 32 rows share each broadcast
constexpr int kTileRows = kRowLanes * kGroups;
constexpr int kPackGroup = 16;  // columns per group of pack_act's interface

// One block of 16 rows: row r's block at base + r * stride, rows past
// `rows` read as zeros.
struct Rows16 {
  __m512i offs;  // r * stride
  size_t stride;
  int rows;

  __m512i dword(const uint8_t* base, size_t at) const {  // a gather: for a lone word per row
    const auto live = static_cast<__mmask16>((1u << rows) - 1);
    return _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, offs, base + at, 1);
  }
  __m128i bytes16(const uint8_t* base, int r, size_t at) const {
    return r < rows ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + r * stride + at)) : _mm_setzero_si128();
  }
  // Words s = 0..3 of 16 bytes at `at` of each row, rows across the lanes:
  // 4 rows per vector by 128-bit loads, then a 2-step transpose (a gather
  // per word cost ~4x as much on Zen 5).
  void words4(const uint8_t* base, size_t at, __m512i (&t)[4]) const {
    __m512i z[4];
    for (int q = 0; q < 4; ++q) {
      __m512i v = _mm512_castsi128_si512(bytes16(base, 4 * q, at));
      v = _mm512_inserti32x4(v, bytes16(base, 4 * q + 1, at), 1);
      v = _mm512_inserti32x4(v, bytes16(base, 4 * q + 2, at), 2);
      z[q] = _mm512_inserti32x4(v, bytes16(base, 4 * q + 3, at), 3);
    }
    // Lanes 0-7: word s of rows 0-7 of a pair of vectors; 8-15: word s + 1.
    const __m512i w01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i w23 = _mm512_add_epi32(w01, _mm512_set1_epi32(2));
    const __m512i a01 = _mm512_permutex2var_epi32(z[0], w01, z[1]);
    const __m512i a23 = _mm512_permutex2var_epi32(z[0], w23, z[1]);
    const __m512i b01 = _mm512_permutex2var_epi32(z[2], w01, z[3]);
    const __m512i b23 = _mm512_permutex2var_epi32(z[2], w23, z[3]);
    t[0] = _mm512_shuffle_i64x2(a01, b01, _MM_SHUFFLE(1, 0, 1, 0));
    t[1] = _mm512_shuffle_i64x2(a01, b01, _MM_SHUFFLE(3, 2, 3, 2));
    t[2] = _mm512_shuffle_i64x2(a23, b23, _MM_SHUFFLE(1, 0, 1, 0));
    t[3] = _mm512_shuffle_i64x2(a23, b23, _MM_SHUFFLE(3, 2, 3, 2));
  }
};

inline __m512i low_nibbles(__m512i x) { return _mm512_and_si512(x, _mm512_set1_epi8(0x0F)); }
inline __m512i high_nibbles(__m512i x) { return _mm512_and_si512(_mm512_srli_epi32(x, 4), _mm512_set1_epi8(0x0F)); }

// Bytes of the packed activations of B columns of K: whole groups of 16.
template <class ColBlock, class ActBlock>
size_t lanes_packed_bytes(int64_t B, int64_t K) {
  const int64_t cols = (B + kPackGroup - 1) / kPackGroup * kPackGroup;
  return static_cast<size_t>(cols) * static_cast<size_t>(K / ActBlock::kSize) * sizeof(ColBlock);
}

// A register tile's running sums: column c's row vector g at part + c * 32 + 16 g.
template <int G, int C>
[[gnu::always_inline]] inline void load_sums(const float* part, __m512 (&acc)[G][C]) {
  for (int c = 0; c < C; ++c)
    for (int g = 0; g < G; ++g) acc[g][c] = _mm512_loadu_ps(part + c * kTileRows + g * kRowLanes);
}
template <int G, int C>
[[gnu::always_inline]] inline void store_sums(float* part, const __m512 (&acc)[G][C]) {
  for (int c = 0; c < C; ++c)
    for (int g = 0; g < G; ++g) _mm512_storeu_ps(part + c * kTileRows + g * kRowLanes, acc[g][c]);
}

// 32 levels of each column against 32 of each row: dot[g][c] += the 8
// weight vectors from w[g] (16 rows x 4 levels each) against the 8 words
// of q[c], each word broadcast to every row.
template <int G, int C>
[[gnu::always_inline]] inline void dot32(const __m512i* const (&w)[G], const int8_t* const (&q)[C],
                                         __m512i (&dot)[G][C]) {
#pragma GCC unroll 8
  for (int s = 0; s < 8; ++s) {
    __m512i wv[G];
    for (int g = 0; g < G; ++g) wv[g] = _mm512_load_si512(w[g] + s);
    for (int c = 0; c < C; ++c) {
      int32_t word;
      std::memcpy(&word, q[c] + 4 * s, 4);
      const __m512i av = _mm512_set1_epi32(word);
      for (int g = 0; g < G; ++g) dot[g][c] = _mm512_dpbusd_epi32(dot[g][c], wv[g], av);
    }
  }
}

// Packs columns of groups [g0, g1) of B activation rows (a_stride bytes
// apart) into per-column ColBlocks: fill(ColBlock&, const ActBlock&).
template <class ColBlock, class ActBlock, class Fill>
void lanes_pack(const uint8_t* a, size_t a_stride, int64_t B, int64_t K, int64_t g0, int64_t g1, uint8_t* out,
                Fill fill) {
  const int64_t nb = K / ActBlock::kSize;
  auto* dst = reinterpret_cast<ColBlock*>(out);
  for (int64_t c = g0 * kPackGroup; c < std::min(B, g1 * kPackGroup); ++c) {
    const auto* src = reinterpret_cast<const ActBlock*>(a + c * a_stride);
    for (int64_t j = 0; j < nb; ++j) fill(dst[c * nb + j], src[j]);
  }
}

template <class Kern>
struct LanesGemm {
  using Block = typename Kern::Block;
  using RowBlock = typename Kern::RowBlock;
  using ColBlock = typename Kern::ColBlock;
  static constexpr int kMaxCols = Kern::kMaxCols;
  static constexpr int kPassBlocks = Kern::kPassBlocks;

  template <int G>
  static void columns(const RowBlock* const (&w)[kGroups], int nbp, const ColBlock* a, int64_t nb, int64_t B,
                      float* part) {
    int64_t c = 0;
    for (; c + kMaxCols <= B; c += kMaxCols) Kern::template tile<G, kMaxCols>(w, nbp, a + c * nb, nb, part + c * kTileRows);
    rest<G, kMaxCols - 1>(w, nbp, a + c * nb, nb, B - c, part + c * kTileRows);
  }

  template <int G, int C>
  static void rest(const RowBlock* const (&w)[kGroups], int nbp, const ColBlock* a, int64_t nb, int64_t left,
                   float* part) {
    if constexpr (C > 0) {
      if (left == C) {
        Kern::template tile<G, C>(w, nbp, a, nb, part);
      } else {
        rest<G, C - 1>(w, nbp, a, nb, left, part);
      }
    }
  }

  // p.a: the packed activations of p.B columns; p.N weight rows.
  static void gemm(const MatmulArgs& p) {
    const int64_t nb = p.K / Block::kSize;
    const auto* act = reinterpret_cast<const ColBlock*>(p.a);
    // Row offsets fit the gathers' int32 indices: 16 rows of K < 2^26.
    const __m512i offs = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(static_cast<int32_t>(p.w_stride)));
    thread_local std::vector<float> part;
    part.resize(static_cast<size_t>(p.B) * kTileRows);
    alignas(64) RowBlock wbuf[kGroups][kPassBlocks];
    const RowBlock* const w[kGroups] = {wbuf[0], wbuf[1]};
    for (int64_t r0 = 0; r0 < p.N; r0 += kTileRows) {
      const int nr = static_cast<int>(std::min<int64_t>(kTileRows, p.N - r0));
      const int groups = nr > kRowLanes ? 2 : 1;
      // The next tile's rows are fetched into L2 pass by pass, while this
      // one's are transposed (measured: +5-10% at 16-128 columns).
      const size_t pf = tiles::next_tile<kTileRows>(p, r0);
      std::fill(part.begin(), part.end(), 0.0f);
      for (int64_t k0 = 0; k0 < nb; k0 += kPassBlocks) {
        const int nbp = static_cast<int>(std::min<int64_t>(kPassBlocks, nb - k0));
        for (int g = 0; g < groups; ++g) {
          const int rows = std::min(kRowLanes, nr - g * kRowLanes);
          const Rows16 rg{offs, p.w_stride, rows};
          const uint8_t* base = p.w + (r0 + g * kRowLanes) * p.w_stride + k0 * sizeof(Block);
          for (int j = 0; j < nbp; ++j) Kern::unpack(rg, base + j * sizeof(Block), wbuf[g][j]);
          for (int r = 0; r < rows && pf > 0; ++r) {
            const uint8_t* const row[1] = {base + r * p.w_stride};
            tiles::prefetch_ahead(row, pf, nbp * sizeof(Block));
          }
        }
        if (groups == 2) {
          columns<2>(w, nbp, act + k0, nb, p.B, part.data());
        } else {
          columns<1>(w, nbp, act + k0, nb, p.B, part.data());
        }
      }
      for (int64_t c = 0; c < p.B; ++c) {
        float* y = tiles::out_row(p, c) + r0;
        const float* s = part.data() + c * kTileRows;
        std::copy(s, s + nr, y);
      }
    }
  }
};

}  // namespace
}  // namespace moerun
