// AVX-512 attention products in ggml's order (simd/float_ops.h
// attn_scores_exact, attn_values_exact): bit-identical to the scalar ones,
// because every lane runs the same sequence of IEEE operations in the same
// order (float product, exact widening, double add) and no lane sums across
// another.
//
// Scores: lanes are 16 query rows (the queries come transposed), so each
// lane walks d in order for its row; 4 keys share each query load. Values:
// lanes are 8 output elements in double; each walks the keys in order, and
// two query rows share each value load.
// About 0.4 vector ops per multiply-add, ~3x the float FMA kernels: the
// price of agreeing with llama.cpp to the last bit. Masked loads only where
// a row group or a chunk of elements is cut short: on full ones they cost
// ~20% (scores 22 -> 27 GMAC/s per thread, values 17 -> 27 with the shared
// loads; M 64, 256 keys, D 576/512, Zen 5).
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

// Query rows [i0, i0 + 16) of qt against NK keys; Full: all 16 rows exist;
// Halves: 8-row halves that hold rows (1 when nrows <= 8: a decode item of
// 8 heads computes no empty half).
template <int NK, bool Full, int Halves = 2, bool Prefetch = false>
void score_keys(const float* qt, int64_t ldqt, int64_t i0, __mmask16 rows, const float* k, int64_t ldk, int64_t D,
                float* s, int64_t lds, int nrows, int n_pf) {
  __m512d acc[NK][Halves];
  for (int j = 0; j < NK; ++j)
    for (int h = 0; h < Halves; ++h) acc[j][h] = _mm512_setzero_pd();
  const __mmask8 half_rows[2] = {static_cast<__mmask8>(rows & 0xff), static_cast<__mmask8>(rows >> 8)};
  for (int64_t d = 0; d < D; ++d) {
    if (Prefetch && (d & 15) == 0) {  // the next n_pf keys' line at d
      for (int j = 0; j < n_pf; ++j) _mm_prefetch(reinterpret_cast<const char*>(k + (NK + j) * ldk + d), _MM_HINT_T0);
    }
    const float* q = qt + d * ldqt + i0;
    __m256 qh[Halves];
    for (int h = 0; h < Halves; ++h) qh[h] = Full ? _mm256_loadu_ps(q + 8 * h) : _mm256_maskz_loadu_ps(half_rows[h], q + 8 * h);
    for (int j = 0; j < NK; ++j) {
      const __m256 kb = _mm256_set1_ps(k[j * ldk + d]);
      for (int h = 0; h < Halves; ++h) acc[j][h] = _mm512_add_pd(acc[j][h], _mm512_cvtps_pd(_mm256_mul_ps(qh[h], kb)));
    }
  }
  for (int j = 0; j < NK; ++j) {
    alignas(64) float out[kRowLanes];
    for (int h = 0; h < Halves; ++h) _mm256_store_ps(out + 8 * h, _mm512_cvtpd_ps(acc[j][h]));
    for (int r = 0; r < nrows; ++r) s[(i0 + r) * lds + j] = out[r];
  }
}

// Only the first row group prefetches: the others find the keys in cache.
template <bool Full, int Halves = 2>
void score_rows(const float* qt, int64_t ldqt, int64_t i0, int nrows, const float* k, int64_t ldk, int64_t N,
                int64_t D, float* s, int64_t lds) {
  const __mmask16 rows = static_cast<__mmask16>((1u << nrows) - 1);
  // One half: twice the keys per query load, so as many sums are in flight.
  constexpr int NK = Halves == 1 ? 2 * kKeys : kKeys;
  int64_t j = 0;
  for (; j + NK <= N; j += NK) {
    const int n_pf = static_cast<int>(std::clamp<int64_t>(N - j - NK, 0, NK));
    if (i0 == 0) {
      score_keys<NK, Full, Halves, true>(qt, ldqt, i0, rows, k + j * ldk, ldk, D, s + j, lds, nrows, n_pf);
    } else {
      score_keys<NK, Full, Halves>(qt, ldqt, i0, rows, k + j * ldk, ldk, D, s + j, lds, nrows, 0);
    }
  }
  for (; j < N; ++j) score_keys<1, Full, Halves>(qt, ldqt, i0, rows, k + j * ldk, ldk, D, s + j, lds, nrows, 0);
}

void scores(const float* qt, int64_t ldqt, int64_t M, const float* k, int64_t ldk, int64_t N, int64_t D,
            float* s, int64_t lds) {
  for (int64_t i0 = 0; i0 < M; i0 += kRowLanes) {
    const int nrows = static_cast<int>(std::min<int64_t>(kRowLanes, M - i0));
    if (nrows == kRowLanes) {
      score_rows<true>(qt, ldqt, i0, nrows, k, ldk, N, D, s, lds);
    } else if (nrows == 8) {
      score_rows<true, 1>(qt, ldqt, i0, nrows, k, ldk, N, D, s, lds);
    } else if (nrows < 8) {
      score_rows<false, 1>(qt, ldqt, i0, nrows, k, ldk, N, D, s, lds);
    } else {
      score_rows<false>(qt, ldqt, i0, nrows, k, ldk, N, D, s, lds);
    }
  }
}

constexpr int kChunks = 8;  // 8 x 8 doubles of output per pass: R x 8 zmm of sums

// Output elements [d0, d0 + 64) of rows [i, i + R): each key's values loaded
// once for the R rows. Full: all 64 elements exist. No key is skipped, not
// even at probability 0 (as ggml): a per-row test or masked add costs a
// fifth of the speed.
template <int R, bool Full>
void value_rows(const float* p, int64_t ldp, int64_t i, const float* v, int64_t ldv, int64_t N, int64_t d0,
                const __mmask8 (&mask)[kChunks], double* o, int64_t ldo) {
  __m512d acc[R][kChunks];
  for (int r = 0; r < R; ++r) {
    const double* oi = o + (i + r) * ldo + d0;
    for (int c = 0; c < kChunks; ++c) acc[r][c] = Full ? _mm512_loadu_pd(oi + 8 * c) : _mm512_maskz_loadu_pd(mask[c], oi + 8 * c);
  }
  for (int64_t j = 0; j < N; ++j) {
    __m256 pb[R];
    for (int r = 0; r < R; ++r) pb[r] = _mm256_set1_ps(p[(i + r) * ldp + j]);
    const float* vj = v + j * ldv + d0;
    for (int c = 0; c < kChunks; ++c) {
      const __m256 x = Full ? _mm256_loadu_ps(vj + 8 * c) : _mm256_maskz_loadu_ps(mask[c], vj + 8 * c);
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_add_pd(acc[r][c], _mm512_cvtps_pd(_mm256_mul_ps(pb[r], x)));
    }
  }
  for (int r = 0; r < R; ++r) {
    double* oi = o + (i + r) * ldo + d0;
    for (int c = 0; c < kChunks; ++c) {
      if (Full) {
        _mm512_storeu_pd(oi + 8 * c, acc[r][c]);
      } else {
        _mm512_mask_storeu_pd(oi + 8 * c, mask[c], acc[r][c]);
      }
    }
  }
}

template <bool Full>
void value_pass(const float* p, int64_t ldp, int64_t M, const float* v, int64_t ldv, int64_t N, int64_t d0,
                const __mmask8 (&mask)[kChunks], double* o, int64_t ldo) {
  int64_t i = 0;
  for (; i + 2 <= M; i += 2) value_rows<2, Full>(p, ldp, i, v, ldv, N, d0, mask, o, ldo);
  if (i < M) value_rows<1, Full>(p, ldp, i, v, ldv, N, d0, mask, o, ldo);
}

void values(const float* p, int64_t ldp, int64_t M, const float* v, int64_t ldv, int64_t N, int64_t D, double* o,
            int64_t ldo) {
  for (int64_t d0 = 0; d0 < D; d0 += 8 * kChunks) {
    __mmask8 mask[kChunks];
    for (int c = 0; c < kChunks; ++c) {
      const int64_t left = std::clamp<int64_t>(D - d0 - 8 * c, 0, 8);
      mask[c] = static_cast<__mmask8>((1u << left) - 1);
    }
    if (D - d0 >= 8 * kChunks) {
      value_pass<true>(p, ldp, M, v, ldv, N, d0, mask, o, ldo);
    } else {
      value_pass<false>(p, ldp, M, v, ldv, N, d0, mask, o, ldo);
    }
  }
}

}  // namespace

void fill_avx512_exact_attn(KernelTable& t) {
  t.f.attn_scores_exact = scores;
  t.f.attn_values_exact = values;
}

}  // namespace moerun
