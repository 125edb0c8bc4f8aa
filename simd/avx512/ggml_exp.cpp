// AVX-512 softmax, SiLU x up and the bare exponential with ggml's portable
// exponential (simd/ggml_exp.h): the same IEEE operations per lane, each
// multiply and add rounded on its own (no FMA), so every lane equals the
// scalar function bit for bit; the row rules (groups of 4, libm expf on the
// rest, group sums added to a double in order) are the scalar ones.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cmath>

#include "simd/avx512/avx512.h"
#include "simd/ggml_exp.h"

namespace moerun {
namespace {

inline __m512 madd(__m512 a, __m512 b, __m512 c) { return _mm512_add_ps(_mm512_mul_ps(a, b), c); }

__m512 v_expf(__m512 x) {
  const __m512 r = _mm512_set1_ps(0x1.8p23f);
  const __m512 z = madd(x, _mm512_set1_ps(0x1.715476p+0f), r);
  const __m512 n = _mm512_sub_ps(z, r);
  const __m512 b = _mm512_sub_ps(_mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0x1.62e4p-1f))),
                                 _mm512_mul_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f)));
  const __m512i e = _mm512_slli_epi32(_mm512_castps_si512(z), 23);
  const __m512 k = _mm512_castsi512_ps(_mm512_add_epi32(e, _mm512_castps_si512(_mm512_set1_ps(1.0f))));
  const __m512 an = _mm512_abs_ps(n);
  const __mmask16 c = _mm512_cmp_ps_mask(an, _mm512_set1_ps(126.0f), _CMP_GT_OQ);
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = madd(madd(madd(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                             madd(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
                        u, _mm512_mul_ps(_mm512_set1_ps(0x1.ffffecp-1f), b));
  const __m512 normal = madd(j, k, k);
  if (c == 0) return normal;
  const __mmask16 neg = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
  const __m512i g = _mm512_maskz_mov_epi32(neg, _mm512_set1_epi32(static_cast<int>(0x82000000u)));
  const __m512 s1 = _mm512_castsi512_ps(_mm512_add_epi32(g, _mm512_set1_epi32(0x7f000000)));
  const __m512 s2 = _mm512_castsi512_ps(_mm512_sub_epi32(e, g));
  const __mmask16 d = _mm512_cmp_ps_mask(an, _mm512_set1_ps(192.0f), _CMP_GT_OQ);
  __m512 out = _mm512_mask_blend_ps(c, normal, _mm512_mul_ps(madd(s2, j, s2), s1));
  return _mm512_mask_blend_ps(d, out, _mm512_mul_ps(s1, s1));
}

void expf_rows(float* x, int64_t n, float sub) {
  const __m512 vs = _mm512_set1_ps(sub);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, v_expf(_mm512_sub_ps(_mm512_loadu_ps(x + i), vs)));
  for (; i < n; ++i) x[i] = ggml_exp::v_expf(x[i] - sub);
}

void silu_up(const float* gate, const float* up, float* out, int64_t n) {
  const int64_t n4 = n & ~int64_t{3};
  const __m512 one = _mm512_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 16 <= n4; i += 16) {
    const __m512 x = _mm512_loadu_ps(gate + i);
    const __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, v_expf(_mm512_sub_ps(_mm512_setzero_ps(), x))));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(s, _mm512_loadu_ps(up + i)));
  }
  for (; i < n4; ++i) out[i] = ggml_exp::v_silu(gate[i]) * up[i];
  for (; i < n; ++i) out[i] = ggml_exp::silu_tail(gate[i]) * up[i];
}

void softmax_row(float* x, int64_t n) { ggml_exp::softmax_row(x, n, expf_rows); }

}  // namespace

void fill_avx512_ggml_exp(KernelTable& t) {
  t.f.expf_ggml = expf_rows;
  t.f.silu_mul = silu_up;
  t.f.softmax_inplace = softmax_row;
}

}  // namespace moerun
