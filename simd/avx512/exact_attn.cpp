// AVX-512 attention products in ggml's order (simd/float_ops.h
// attn_scores_exact, attn_values_exact): bit-identical to the scalar ones,
// because every lane runs the same sequence of IEEE operations in the same
// order (float product, exact widening, double add) and no lane sums across
// another.
//
// Scores: lanes are 16 query rows (the queries come transposed), so each
// lane walks d in order for its row; 4 keys share each query load. Values:
// lanes are 8 output elements in double; each walks the keys in order.
// About 0.5 vector ops per multiply-add, ~3x the float FMA kernels: the
// price of agreeing with llama.cpp to the last bit.
// GCC 12 flags a deliberately undefined vector in its _mm512_cvtps_pd
// headers; the value never reaches a result.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "simd/avx512/avx512.h"

namespace moerun {
namespace {

constexpr int kRowLanes = 16;
constexpr int kKeys = 4;  // keys per query load

template <int NK>
void score_keys(const float* qt, int64_t ldqt, int64_t i0, __mmask16 rows, const float* k, int64_t ldk, int64_t D,
                float* s, int64_t lds, int nrows) {
  __m512d acc[NK][2];
  for (int j = 0; j < NK; ++j) acc[j][0] = acc[j][1] = _mm512_setzero_pd();
  const __mmask8 lo_rows = static_cast<__mmask8>(rows & 0xff), hi_rows = static_cast<__mmask8>(rows >> 8);
  for (int64_t d = 0; d < D; ++d) {
    const float* q = qt + d * ldqt + i0;
    const __m256 q_lo = _mm256_maskz_loadu_ps(lo_rows, q);
    const __m256 q_hi = _mm256_maskz_loadu_ps(hi_rows, q + 8);
    for (int j = 0; j < NK; ++j) {
      const __m256 kb = _mm256_set1_ps(k[j * ldk + d]);
      acc[j][0] = _mm512_add_pd(acc[j][0], _mm512_cvtps_pd(_mm256_mul_ps(q_lo, kb)));
      acc[j][1] = _mm512_add_pd(acc[j][1], _mm512_cvtps_pd(_mm256_mul_ps(q_hi, kb)));
    }
  }
  for (int j = 0; j < NK; ++j) {
    alignas(64) float out[kRowLanes];
    _mm256_store_ps(out, _mm512_cvtpd_ps(acc[j][0]));
    _mm256_store_ps(out + 8, _mm512_cvtpd_ps(acc[j][1]));
    for (int r = 0; r < nrows; ++r) s[(i0 + r) * lds + j] = out[r];
  }
}

void scores(const float* qt, int64_t ldqt, int64_t M, const float* k, int64_t ldk, int64_t N, int64_t D,
                       float* s, int64_t lds) {
  for (int64_t i0 = 0; i0 < M; i0 += kRowLanes) {
    const int nrows = static_cast<int>(std::min<int64_t>(kRowLanes, M - i0));
    const __mmask16 rows = static_cast<__mmask16>((1u << nrows) - 1);
    int64_t j = 0;
    for (; j + kKeys <= N; j += kKeys) score_keys<kKeys>(qt, ldqt, i0, rows, k + j * ldk, ldk, D, s + j, lds, nrows);
    for (; j < N; ++j) score_keys<1>(qt, ldqt, i0, rows, k + j * ldk, ldk, D, s + j, lds, nrows);
  }
}

constexpr int kChunks = 8;  // 8 x 8 doubles of output per pass: 16 zmm of sums

void values(const float* p, int64_t ldp, int64_t M, const float* v, int64_t ldv, int64_t N, int64_t D,
                       double* o, int64_t ldo) {
  for (int64_t d0 = 0; d0 < D; d0 += 8 * kChunks) {
    __mmask8 mask[kChunks];
    for (int c = 0; c < kChunks; ++c) {
      const int64_t left = std::clamp<int64_t>(D - d0 - 8 * c, 0, 8);
      mask[c] = static_cast<__mmask8>((1u << left) - 1);
    }
    for (int64_t i = 0; i < M; ++i) {
      double* oi = o + i * ldo + d0;
      __m512d acc[kChunks];
      for (int c = 0; c < kChunks; ++c) acc[c] = _mm512_maskz_loadu_pd(mask[c], oi + 8 * c);
      const float* pi = p + i * ldp;
      for (int64_t j = 0; j < N; ++j) {
        if (pi[j] == 0.0f) continue;  // adds +-0: no change (as the scalar one)
        const __m256 pb = _mm256_set1_ps(pi[j]);
        const float* vj = v + j * ldv + d0;
        for (int c = 0; c < kChunks; ++c) {
          const __m256 x = _mm256_maskz_loadu_ps(mask[c], vj + 8 * c);
          acc[c] = _mm512_add_pd(acc[c], _mm512_cvtps_pd(_mm256_mul_ps(pb, x)));
        }
      }
      for (int c = 0; c < kChunks; ++c) _mm512_mask_storeu_pd(oi + 8 * c, mask[c], acc[c]);
    }
  }
}

}  // namespace

void fill_avx512_exact_attn(KernelTable& t) {
  t.f.attn_scores_exact = scores;
  t.f.attn_values_exact = values;
}

}  // namespace moerun
