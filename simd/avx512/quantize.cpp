// AVX-512 activation quantizers (f32 -> Q8_0, Q8_1, Q8_K, F16, BF16),
// bit-identical to the scalar ones in quant/ (quantize_row_q8_0_act etc.;
// tests/simd checks every byte): the same f32 operations in the same order;
// Q8_0/Q8_1 levels are roundf(x * (1 / d)) (half away from zero), Q8_K's
// round to nearest even (lrint) via vcvtps2dq under the default MXCSR mode.
// GCC 12's AVX-512 headers read a deliberately undefined vector in
// _mm512_reduce_* and _mm512_cvtph_ps, which -Wuninitialized flags at every
// use; the value never reaches a result.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "quant/q8_0.h"
#include "quant/q8_1.h"
#include "quant/q8_k.h"
#include "simd/avx512/avx512.h"

namespace moerun {
namespace {

// roundf on 16 lanes: truncate, then step away from zero where the part
// cut off is at least a half (v - trunc(v) is exact below 2^23).
inline __m512i round_away(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
  const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
  return _mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, one));
}

// One 32-value block: stores the levels, returns their sum; *d_out = d.
inline int q8_block(const float* src, int8_t* qs, float* d_out) {
  const __m512 x0 = _mm512_loadu_ps(src), x1 = _mm512_loadu_ps(src + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
  const float d = amax / 127;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const __m512 vid = _mm512_set1_ps(id);
  const __m512i q0 = round_away(_mm512_mul_ps(x0, vid));
  const __m512i q1 = round_away(_mm512_mul_ps(x1, vid));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtepi32_epi8(q0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtepi32_epi8(q1));
  *d_out = d;
  return _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
}

void quantize_q8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / 32; ++i) {
    float d;
    q8_block(src + 32 * i, b[i].qs, &d);
    b[i].d = f32_to_f16(d);
  }
}

void quantize_q8_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / 32; ++i) {
    float d;
    const int sum = q8_block(src + 32 * i, b[i].qs, &d);
    b[i].d = f32_to_f16(d);
    b[i].s = f32_to_f16(sum * d);
  }
}

void quantize_q8_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / kSuperBlock; ++i, src += kSuperBlock) {
    __m512 m = _mm512_setzero_ps();
    for (int j = 0; j < kSuperBlock; j += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(src + j)));
    const float amax = _mm512_reduce_max_ps(m);
    if (!amax) {
      std::memset(&b[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    // The scalar keeps the first element of largest magnitude (sign included).
    float max = 0;
    for (int j = 0; j < kSuperBlock; j += 16) {
      const __mmask16 hit =
          _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(src + j)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (hit) {
        max = src[j + __builtin_ctz(hit)];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m512 vs = _mm512_set1_ps(iscale);
    for (int g = 0; g < kSuperBlock / 16; ++g) {
      __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(vs, _mm512_loadu_ps(src + 16 * g)));
      q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(b[i].qs + 16 * g), _mm512_cvtepi32_epi8(q));
      b[i].bsums[g] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    b[i].d = 1 / iscale;
  }
}

void quantize_f16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m256i v = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm256_mask_storeu_epi16(h + i, m, v);
  }
}

// Round to nearest even on the dropped 16 bits; NaN keeps its top bits and
// is made quiet (quant/half.cpp f32_to_bf16).
void quantize_bf16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512i x = _mm512_castps_si512(_mm512_maskz_loadu_ps(m, src + i));
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), odd), 16);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff)),
                                                  _mm512_set1_epi32(0x7f800000));
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40)));
    _mm256_mask_storeu_epi16(h + i, m, _mm512_cvtepi32_epi16(r));
  }
}

}  // namespace

void fill_avx512_quantize(KernelTable& t) {
  t.fmt[format_index(QType::Q8_0)].quantize = quantize_q8_0;
  t.fmt[format_index(QType::Q8_1)].quantize = quantize_q8_1;
  t.fmt[format_index(QType::Q8_K)].quantize = quantize_q8_k;
  t.fmt[format_index(QType::F16)].quantize = quantize_f16;
  t.fmt[format_index(QType::BF16)].quantize = quantize_bf16;
}

}  // namespace moerun
