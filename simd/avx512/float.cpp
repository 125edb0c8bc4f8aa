// AVX-512 kernels for float weights (F32, F16, BF16 x the same activation
// format, as llama.cpp pairs them) and the xsimd float ops for this ISA.
// As ggml's portable dot: each product rounded to float, the products summed
// in double. In double a sum of a few thousand such products is exact unless
// their magnitudes span more than ~2^29, so the lane order here gives the
// scalar reference's sequential sum to the last bit (and so llama.cpp's).
// GCC 12's AVX-512 headers read a deliberately undefined vector in
// _mm512_reduce_* and _mm512_cvtph_ps, which -Wuninitialized flags at every
// use; the value never reaches a result.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "simd/avx512/avx512.h"
#include "simd/tile_driver.h"
#include "simd/xsimd_float_ops.h"

namespace moerun {
namespace {

struct LoadF32 {
  static constexpr int kBytes = 4;
  static __m512 load(const uint8_t* row, int64_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(row) + i);
  }
};
struct LoadF16 {
  static constexpr int kBytes = 2;
  static __m512 load(const uint8_t* row, int64_t i, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + i));
  }
};
struct LoadBF16 {  // bf16 is the top half of an f32
  static constexpr int kBytes = 2;
  static __m512 load(const uint8_t* row, int64_t i, __mmask16 m) {
    const __m256i h = _mm256_maskz_loadu_epi16(m, reinterpret_cast<const uint16_t*>(row) + i);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
};

template <class L>
struct FloatTile {
  static constexpr int kGemvRows = 4;
  static constexpr int kGemmRows = 2;
  static constexpr int kGemmCols = 4;

  template <int NR, int NC>
  static void tile(const MatmulArgs& p, int64_t r0, int64_t c0) {
    const uint8_t* w[NR];
    const uint8_t* a[NC];
    for (int r = 0; r < NR; ++r) w[r] = p.w + (r0 + r) * p.w_stride;
    for (int c = 0; c < NC; ++c) a[c] = p.a + (c0 + c) * p.a_stride;
    __m512d acc[NR][NC][2];
    for (auto& row : acc)
      for (auto& v : row) v[0] = v[1] = _mm512_setzero_pd();
    for (int64_t i = 0; i < p.K; i += 16) {
      const __mmask16 m = p.K - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (p.K - i)) - 1);
      tiles::prefetch_next_tile<NR, NC>(p, r0, i * L::kBytes, 16 * L::kBytes);
      __m512 av[NC];
      for (int c = 0; c < NC; ++c) av[c] = L::load(a[c], i, m);
      for (int r = 0; r < NR; ++r) {
        const __m512 wv = L::load(w[r], i, m);
        for (int c = 0; c < NC; ++c) {
          const __m512 prod = _mm512_mul_ps(wv, av[c]);
          acc[r][c][0] = _mm512_add_pd(acc[r][c][0], _mm512_cvtps_pd(_mm512_castps512_ps256(prod)));
          acc[r][c][1] = _mm512_add_pd(
              acc[r][c][1], _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(prod), 1))));
        }
      }
    }
    for (int c = 0; c < NC; ++c) {
      float* y = tiles::out_row(p, c0 + c) + r0;
      for (int r = 0; r < NR; ++r) {
        y[r] = static_cast<float>(_mm512_reduce_add_pd(_mm512_add_pd(acc[r][c][0], acc[r][c][1])));
      }
    }
  }
};

}  // namespace

void fill_avx512_float(KernelTable& t) {
  tiles::install<FloatTile<LoadF32>>(t, QType::F32);
  tiles::install<FloatTile<LoadF16>>(t, QType::F16);
  tiles::install<FloatTile<LoadBF16>>(t, QType::BF16);
  xs::FloatOps<xsimd::avx512bw>::fill(t.f);
}

void fill_Avx512(KernelTable& t) {
  fill_avx512_legacy(t);
  fill_avx512_legacy_gemv(t);  // after: replaces the Q4_0/Q8_0 GEMV
  fill_avx512_legacy_gemm(t);  // after: replaces the Q4_0/Q8_0 GEMM
  fill_avx512_q4_0_block_lanes(t);  // after: replaces the Q4_0 GEMV and few-column GEMM
  fill_avx512_legacy_gemm_lanes(t);
  fill_avx512_q4_k_gemm_lanes(t);
  fill_avx512_kquants(t);
  fill_avx512_k_gemv(t);  // after: replaces the Q4_K/Q5_K GEMVs
  fill_avx512_q6_k(t);
  fill_avx512_float(t);
  fill_avx512_attn_tiles(t);  // after: replaces the xsimd attention products
  fill_avx512_exact_attn(t);
  fill_avx512_ggml_exp(t);
  fill_avx512_quantize(t);
  fill_avx512_q8_0_exact(t);  // late: replaces every Q8_0 weight kernel
  fill_avx512_q8_0_exact_lanes(t);  // then its many-column GEMM, as exact
}

}  // namespace moerun
