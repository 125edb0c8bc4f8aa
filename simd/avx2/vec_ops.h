// Small vector helpers shared by the AVX2 kernels (quant_impl.h tiles,
// *_gemv_impl.h decode GEMVs). Compiled once per row: with -mavxvnni
// (simd/avx2_vnni/) the dots are vpdpbusd/vpdpwssd, without (simd/avx2/)
// vpmaddubsw/vpmaddwd; hence the anonymous namespace: each build keeps its
// own.
#pragma once

#include <immintrin.h>

namespace moerun {
namespace {
namespace avx2_ops {

inline __m256i ld(const void* p) { return _mm256_load_si256(static_cast<const __m256i*>(p)); }
inline __m256i ldu(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// acc + the sum of 4 u8 x s8 products per int32 lane: exact when the pair
// sums fit int16 (vpmaddubsw saturates); every caller states its bound.
inline __m256i dot_u8s8(__m256i acc, __m256i u, __m256i s) {
#if defined(__AVXVNNI__)
  return _mm256_dpbusd_avx_epi32(acc, u, s);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

// acc + the sum of 2 int16 products per int32 lane.
inline __m256i dot_i16(__m256i acc, __m256i x, __m256i y) {
#if defined(__AVXVNNI__)
  return _mm256_dpwssd_avx_epi32(acc, x, y);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(x, y));
#endif
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace avx2_ops
}  // namespace
}  // namespace moerun
