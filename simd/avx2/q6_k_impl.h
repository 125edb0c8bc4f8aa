// AVX2 kernel for Q6_K weights x Q8_K activations: the dot, the decode GEMV
// and the GEMM tiles, all giving the floats of the scalar reference
// (quant/q6_k.h: ggml's generic order) bit for bit. The 256-bit port of
// simd/avx512/q6_k.cpp, which explains the method: per row, column and
// super-block 8 int32 class sums (class l: positions p with p % 8 == l),
// converted, times d, added to 8 float lanes; the lanes summed 0..7 at the
// end of the row. Included by simd/avx2/quant_impl.h, so built twice: plain
// AVX2 (vpmaddwd + vpaddd) and AVX-VNNI (vpdpwssd).
//
// Here, per 128-element half h of a block:
//   - ql[64h..64h+31] and ql[64h+32..64h+63] hold elements 0-31 and 32-63
//     of the half (low nibbles) and 64-95, 96-127 (high), one 16-element
//     group per 128-bit lane; qh[32h + l] has the bits 4-5 of elements l,
//     l + 32, l + 64, l + 96 in its bit pairs, so the 16-bit shifts of
//     simd/avx2 make the four level vectors u0-u3 (0..63);
//   - one vpshufb each on the two ql vectors and qh put a group's bytes k,
//     k + 8 (one class) at bytes 2m, 2m + 1 (k = m in lane 0, m + 4 mod 8
//     in lane 1); the activation gets the same order once per block and
//     column, with 32 * its pair sums for the -32 offset;
//   - vpmaddubsw minus the offset gives the exact int16 (group, class) sums
//     (|.| <= 2 * 32 * 128; the unsigned products' pairs <= 2 * 63 * 128 <
//     2^15); vpunpck{l,h}wd of u0 with u2 (groups g, g + 4) and of u1 with
//     u3 put two groups' sums of one class in a dword, and vpmaddwd with
//     the word pairs (sc_g, sc_g+4) applies both scales;
//   - unpacklo sums hold classes 0-3 | 4-7, unpackhi 4-7 | 0-3: one lane
//     swap and an add give the 8 class sums of the block.
// About 27 ops per row and block for the levels and scales, 45 (VNNI: 37)
// per row, column and block for the sums; the kernels before summed whole
// blocks in int32, a different float order. bench_kernels --k 2048, 1
// thread, Zen 5: GEMV 26 -> 19 GB/s from DRAM, 30 -> 22 in cache (VNNI
// alike); GEMM (B = 64) 69 -> 58 GOP/s (VNNI 69 -> 62).
#pragma once

#include <immintrin.h>

#include "quant/q6_k.h"
#include "quant/q8_k.h"
#include "simd/avx2/vec_ops.h"
#include "simd/tile_driver.h"

namespace moerun {
namespace {
namespace q6_k {

using namespace avx2_ops;

struct Tables {
  alignas(32) int8_t order[32] = {};        // vpshufb: per lane, bytes k, k + 8 at 2m, 2m + 1
  alignas(32) int8_t scale_pairs[2][32] = {};  // vpshufb on a half's 8 int16 scales: pair m
  constexpr Tables() {
    for (int lane = 0; lane < 2; ++lane) {
      for (int m = 0; m < 8; ++m) {
        const int k = lane == 0 ? m : (m + 4) % 8;
        order[16 * lane + 2 * m] = static_cast<int8_t>(k);
        order[16 * lane + 2 * m + 1] = static_cast<int8_t>(k + 8);
      }
    }
    // Pair m (u_m with u_m+2) covers groups 2m + lane and 2m + lane + 4 of
    // the half: words (sc[2m + lane], sc[2m + lane + 4]) in each lane.
    for (int m = 0; m < 2; ++m) {
      for (int i = 0; i < 32; ++i) {
        const int lane = i / 16, word = (i % 16) / 2;
        const int j = 2 * m + lane + (word % 2 ? 4 : 0);
        scale_pairs[m][i] = static_cast<int8_t>(2 * j + i % 2);
      }
    }
  }
};
inline constexpr Tables kT{};

// One column's activation block, in kT.order.
struct Act {
  __m256i q[8];    // elements 32v .. 32v + 31
  __m256i off[8];  // 32 * (q[2m] + q[2m + 1]): int16, one per group and class
};

inline void prep(const BlockQ8_K& a, Act& o) {
  const __m256i order = ld(kT.order);
  const __m256i k32 = _mm256_set1_epi8(32);
  for (int v = 0; v < 8; ++v) {
    o.q[v] = _mm256_shuffle_epi8(ldu(a.qs + 32 * v), order);
    o.off[v] = _mm256_maddubs_epi16(k32, o.q[v]);  // |.| <= 32 * 256
  }
}

// Levels of half h in kT.order: u[k] = elements 128h + 32k .. + 31.
inline void levels(const BlockQ6_K& b, int h, __m256i (&u)[4]) {
  const __m256i order = ld(kT.order);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i bits45 = _mm256_set1_epi8(0x30);
  const __m256i ql0 = _mm256_shuffle_epi8(ldu(b.ql + 64 * h), order);
  const __m256i ql1 = _mm256_shuffle_epi8(ldu(b.ql + 64 * h + 32), order);
  const __m256i qh = _mm256_shuffle_epi8(ldu(b.qh + 32 * h), order);
  u[0] = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
  u[1] = _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
  u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4), _mm256_and_si256(qh, bits45));
  u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                         _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
}

// s[2h + m]: the scale word pairs of pair m of half h.
inline void scales(const BlockQ6_K& b, __m256i (&s)[4]) {
  const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
  for (int h = 0; h < 2; ++h) {
    const __m256i half = h ? _mm256_permute4x64_epi64(sc, 0xEE) : _mm256_permute4x64_epi64(sc, 0x44);
    for (int m = 0; m < 2; ++m) s[2 * h + m] = _mm256_shuffle_epi8(half, ld(kT.scale_pairs[m]));
  }
}

// Adds half h's sums of one row and column: x gets classes 0-3 | 4-7, y
// classes 4-7 | 0-3.
inline void add_half(const __m256i (&u)[4], const __m256i* s, const Act& a, int h, __m256i& x, __m256i& y) {
  __m256i t[4];
  for (int k = 0; k < 4; ++k) {
    t[k] = _mm256_sub_epi16(_mm256_maddubs_epi16(u[k], a.q[4 * h + k]), a.off[4 * h + k]);
  }
  for (int m = 0; m < 2; ++m) {
    x = dot_i16(x, _mm256_unpacklo_epi16(t[m], t[m + 2]), s[m]);
    y = dot_i16(y, _mm256_unpackhi_epi16(t[m], t[m + 2]), s[m]);
  }
}

struct KQ6 {
  using Block = BlockQ6_K;
  static constexpr int kGemvRows = 4;
  static constexpr int kGemmRows = 2;
  static constexpr int kGemmCols = 2;

  template <int NR, int NC>
  static void tile(const MatmulArgs& p, int64_t r0, int64_t c0) {
    const int64_t nb = p.K / kSuperBlock;
    const Block* w[NR];
    const BlockQ8_K* a[NC];
    for (int r = 0; r < NR; ++r) w[r] = reinterpret_cast<const Block*>(p.w + (r0 + r) * p.w_stride);
    for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const BlockQ8_K*>(p.a + (c0 + c) * p.a_stride);
    __m256 acc[NR][NC];
    for (auto& row : acc)
      for (auto& v : row) v = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      tiles::prefetch_next_tile<NR, NC>(p, r0, i * sizeof(Block), sizeof(Block));
      Act act[NC];
      for (int c = 0; c < NC; ++c) prep(a[c][i], act[c]);
      for (int r = 0; r < NR; ++r) {
        const Block& b = w[r][i];
        __m256i s[4];
        scales(b, s);
        __m256i x[NC], y[NC];
        for (int c = 0; c < NC; ++c) x[c] = y[c] = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h) {
          __m256i u[4];
          levels(b, h, u);
          for (int c = 0; c < NC; ++c) add_half(u, s + 2 * h, act[c], h, x[c], y[c]);
        }
        const float dw = _cvtsh_ss(b.d);
        for (int c = 0; c < NC; ++c) {
          const __m256i sums = _mm256_add_epi32(x[c], _mm256_permute4x64_epi64(y[c], 0x4E));
          const float d = dw * a[c][i].d;  // ggml: fp16_to_fp32(x.d) * y.d
          acc[r][c] = _mm256_add_ps(acc[r][c], _mm256_mul_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(d)));
        }
      }
    }
    for (int c = 0; c < NC; ++c) {
      float* out = tiles::out_row(p, c0 + c) + r0;
      for (int r = 0; r < NR; ++r) {
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, acc[r][c]);
        float sum = 0;  // lanes 0..7 in order, from 0 (ggml's final loop)
        for (float v : lanes) sum += v;
        out[r] = sum;
      }
    }
  }
};

}  // namespace q6_k
}  // namespace
}  // namespace moerun
