// AVX-512 VNNI kernel for Q6_K weights x Q8_K activations: the dot, the
// decode GEMV and the GEMM tiles, all giving the floats of the scalar
// reference (quant/q6_k.h: ggml's generic order) bit for bit. Per row,
// column and super-block: 8 int32 class sums (class l: positions p with
// p % 8 == l), converted, times d, added to 8 float lanes (vmulps, then
// vaddps); the lanes summed 0..7 at the end of the row.
//
// Keeping the classes apart, per 128-element half h of a block:
//   - ql[64h..64h+63]: low nibbles are elements 0-63 of the half, one
//     16-element group (sub-block) per 128-bit lane, high nibbles 64-127;
//     qh's bit pairs, moved to bits 4-5 by 32-bit rotates, complete the
//     6-bit levels u (0..63), as in simd/avx512/k_gemv.cpp;
//   - one vpshufb on ql and one on qh put each group's bytes k, k + 8 (one
//     class) at bytes 2m, 2m + 1 (class k = m in lanes 0-1, m + 4 mod 8 in
//     lanes 2-3); the activation gets the same order once per block and
//     column, so vpmaddubsw gives one int16 per (group, class), |.| <=
//     2 * 63 * 128 < 2^15 (no saturation);
//   - the -32 offset: minus 32 * the activation's pair sums (vpmaddubsw
//     with 32s, once per block and column), which leaves the exact
//     (u - 32) sums, |.| <= 2 * 32 * 128;
//   - vpunpcklwd / vpunpckhwd of the low- and high-nibble sums put group
//     g + 4 beside group g in each dword, and one vpdpwssd with the word
//     pairs (sc_g, sc_g+4) applies both scales: the unpacklo sums hold
//     classes 0-3 in lanes 0-1 and 4-7 in lanes 2-3, the unpackhi sums the
//     reverse, so one lane rotate and an add line the classes up;
//   - per block the four lanes fold into 8 class sums; two (row, column)
//     results share a zmm of float lanes.
// About 20 vector ops per row and block for the levels and scales, 21 per
// row, column and block for the sums; the kernels before (~14 and ~10) summed
// whole blocks in int32, a different float order. bench_kernels --k 2048,
// 1 thread, Zen 5: GEMV from DRAM unchanged (~31 GB/s), in cache 48 -> 42
// GB/s; GEMM (B = 64) ~205 -> ~140 GOP/s.
// GCC 12's AVX-512 headers read a deliberately undefined vector in
// _mm512_cvtph_ps and the like, which -Wuninitialized flags at every use.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "quant/q6_k.h"
#include "quant/q8_k.h"
#include "simd/avx512/avx512.h"
#include "simd/tile_driver.h"

namespace moerun {
namespace {

struct Q6Tables {
  alignas(64) int8_t order[64] = {};          // vpshufb: per lane, bytes k, k + 8 at 2m, 2m + 1
  alignas(64) int16_t scale_idx[2][32] = {};  // vpermw, half h: words (sc[8h+c], sc[8h+c+4]) in lane c
  constexpr Q6Tables() {
    for (int c = 0; c < 4; ++c) {
      for (int m = 0; m < 8; ++m) {
        const int k = c < 2 ? m : (m + 4) % 8;
        order[16 * c + 2 * m] = static_cast<int8_t>(k);
        order[16 * c + 2 * m + 1] = static_cast<int8_t>(k + 8);
      }
    }
    for (int h = 0; h < 2; ++h) {
      for (int i = 0; i < 32; ++i) scale_idx[h][i] = static_cast<int16_t>(8 * h + i / 8 + (i % 2 ? 4 : 0));
    }
  }
};
inline constexpr Q6Tables kQ6{};

// 32-bit rotate counts that bring bit b of every byte to bit 4: (4 - b) mod
// 32, one count per 256-bit half (groups 0-1 / 2-3 of a half's 64).
inline __m512i rot_to_bit4(int b_lo, int b_hi) {
  return _mm512_inserti64x4(_mm512_set1_epi32((36 - b_lo) % 32), _mm256_set1_epi32((36 - b_hi) % 32), 1);
}

// One column's activation block, in kQ6.order.
struct Act {
  __m512i q[4];    // elements 64v .. 64v + 63
  __m512i off[4];  // 32 * (q[2m] + q[2m + 1]): int16, one per group and class
};

inline void prep(const BlockQ8_K& a, Act& o) {
  const __m512i order = _mm512_load_si512(kQ6.order);
  const __m512i k32 = _mm512_set1_epi8(32);
  for (int v = 0; v < 4; ++v) {
    o.q[v] = _mm512_shuffle_epi8(_mm512_loadu_si512(a.qs + 64 * v), order);
    o.off[v] = _mm512_maddubs_epi16(k32, o.q[v]);  // |.| <= 32 * 256
  }
}

// Levels of a block in kQ6.order: u[2h] = elements 128h + 0..63, u[2h + 1]
// = 128h + 64..127; s[h] = the half's scale word pairs.
inline void levels(const BlockQ6_K& b, __m512i (&u)[4], __m512i (&s)[2]) {
  const __m512i order = _mm512_load_si512(kQ6.order);
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i bits45 = _mm512_set1_epi8(0x30);
  // Low nibbles take qh bit pairs 0-1 (groups 0-1) and 2-3 (groups 2-3),
  // high nibbles 4-5 and 6-7.
  const __m512i rot_lo = rot_to_bit4(0, 2);
  const __m512i rot_hi = rot_to_bit4(4, 6);
  for (int h = 0; h < 2; ++h) {
    const __m512i ql = _mm512_shuffle_epi8(_mm512_loadu_si512(b.ql + 64 * h), order);
    const __m512i qh = _mm512_shuffle_epi8(
        _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h))), order);
    u[2 * h] = _mm512_ternarylogic_epi32(ql, m4, _mm512_and_si512(_mm512_rolv_epi32(qh, rot_lo), bits45), 0xEA);
    u[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), m4,
                                             _mm512_and_si512(_mm512_rolv_epi32(qh, rot_hi), bits45), 0xEA);
  }
  const __m512i sc = _mm512_castsi256_si512(
      _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales))));
  for (int h = 0; h < 2; ++h) s[h] = _mm512_permutexvar_epi16(_mm512_load_si512(kQ6.scale_idx[h]), sc);
}

// The block's class sums of one row and column, as lanes [0-3 | 0-3 | 4-7 |
// 4-7] (the two halves of each class still apart).
inline __m512i class_sums(const __m512i (&u)[4], const __m512i (&s)[2], const Act& a) {
  __m512i x = _mm512_setzero_si512(), y = _mm512_setzero_si512();
  for (int h = 0; h < 2; ++h) {
    const __m512i lo = _mm512_sub_epi16(_mm512_maddubs_epi16(u[2 * h], a.q[2 * h]), a.off[2 * h]);
    const __m512i hi = _mm512_sub_epi16(_mm512_maddubs_epi16(u[2 * h + 1], a.q[2 * h + 1]), a.off[2 * h + 1]);
    x = _mm512_dpwssd_epi32(x, _mm512_unpacklo_epi16(lo, hi), s[h]);
    y = _mm512_dpwssd_epi32(y, _mm512_unpackhi_epi16(lo, hi), s[h]);
  }
  return _mm512_add_epi32(x, _mm512_shuffle_i64x2(y, y, _MM_SHUFFLE(1, 0, 3, 2)));
}

// Two results' class sums, [P 0-7 | Q 0-7].
inline __m512i join2(__m512i p, __m512i q) {
  return _mm512_add_epi32(_mm512_shuffle_i64x2(p, q, _MM_SHUFFLE(2, 0, 2, 0)),
                          _mm512_shuffle_i64x2(p, q, _MM_SHUFFLE(3, 1, 3, 1)));
}

// One result's class sums, 0-7.
inline __m256i join1(__m512i p) {
  const __m512i t = _mm512_shuffle_i64x2(p, p, _MM_SHUFFLE(3, 1, 2, 0));
  return _mm256_add_epi32(_mm512_castsi512_si256(t), _mm512_extracti64x4_epi64(t, 1));
}

// lanes[0] + ... + lanes[7], in that order from 0 (ggml's final loop).
inline float sum8(const float* lanes) {
  float s = 0;
  for (int l = 0; l < 8; ++l) s += lanes[l];
  return s;
}

struct KQ6 {
  using Block = BlockQ6_K;
  static constexpr int kGemvRows = 4;
  static constexpr int kGemmRows = 2;
  static constexpr int kGemmCols = 4;

  template <int NR, int NC>
  static void tile(const MatmulArgs& p, int64_t r0, int64_t c0) {
    // Results t = r * NC + c; t and t + 1 share a zmm of float lanes (an
    // odd last one has lanes 0-7 of its own).
    constexpr int kItems = NR * NC;
    constexpr int kAccs = (kItems + 1) / 2;
    const int64_t nb = p.K / kSuperBlock;
    const Block* w[NR];
    const BlockQ8_K* a[NC];
    for (int r = 0; r < NR; ++r) w[r] = reinterpret_cast<const Block*>(p.w + (r0 + r) * p.w_stride);
    for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const BlockQ8_K*>(p.a + (c0 + c) * p.a_stride);
    __m512 acc[kAccs];
    for (auto& v : acc) v = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
      tiles::prefetch_next_tile<NR, NC>(p, r0, i * sizeof(Block), sizeof(Block));
      Act act[NC];
      for (int c = 0; c < NC; ++c) prep(a[c][i], act[c]);
      __m512i sums[kItems];
      float d[kItems];
      for (int r = 0; r < NR; ++r) {
        const Block& b = w[r][i];
        __m512i u[4], s[2];
        levels(b, u, s);
        const float dw = _cvtsh_ss(b.d);
        for (int c = 0; c < NC; ++c) {
          sums[r * NC + c] = class_sums(u, s, act[c]);
          d[r * NC + c] = dw * a[c][i].d;  // ggml: fp16_to_fp32(x.d) * y.d
        }
      }
      for (int t = 0; t + 1 < kItems; t += 2) {
        const __m512 dd = _mm512_insertf32x8(_mm512_set1_ps(d[t]), _mm256_set1_ps(d[t + 1]), 1);
        acc[t / 2] = _mm512_add_ps(acc[t / 2], _mm512_mul_ps(_mm512_cvtepi32_ps(join2(sums[t], sums[t + 1])), dd));
      }
      if constexpr (kItems % 2 == 1) {
        const __m256 prod = _mm256_mul_ps(_mm256_cvtepi32_ps(join1(sums[kItems - 1])), _mm256_set1_ps(d[kItems - 1]));
        acc[kAccs - 1] = _mm512_add_ps(acc[kAccs - 1], _mm512_zextps256_ps512(prod));
      }
    }
    alignas(64) float lanes[kAccs][16];
    for (int j = 0; j < kAccs; ++j) _mm512_store_ps(lanes[j], acc[j]);
    for (int r = 0; r < NR; ++r) {
      for (int c = 0; c < NC; ++c) {
        const int t = r * NC + c;
        tiles::out_row(p, c0 + c)[r0 + r] = sum8(&lanes[t / 2][8 * (t % 2)]);
      }
    }
  }
};

}  // namespace

void fill_avx512_q6_k(KernelTable& t) { tiles::install<KQ6>(t, QType::Q6_K); }

}  // namespace moerun
