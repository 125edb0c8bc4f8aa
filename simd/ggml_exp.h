// The exponential that llama.cpp's portable CPU build runs in softmax and
// SiLU: ggml_v_expf (ggml-cpu/vec.h), its SSE2 form without FMA (every
// multiply-add rounds twice), one lane at a time. It is not libm's expf: the
// two differ in the last bit now and then, and a last bit can move the next
// int8 level of a tiny model. ggml takes it on groups of 4 elements and
// expf on the remainder of a row; the row helpers below do the same.
// Scalar and bit-exact; simd/avx512/ggml_exp.cpp is its 16-lane twin.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace moerun::ggml_exp {

inline float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline uint32_t to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float v_expf(float x) {
  const float r = 0x1.8p23f;
  const float z = x * 0x1.715476p+0f + r;
  const float n = z - r;
  const float b = (x - n * 0x1.62e4p-1f) - n * 0x1.7f7d1cp-20f;
  const uint32_t e = to_bits(z) << 23;
  const float k = from_bits(e + to_bits(1.0f));
  const bool c = std::fabs(n) > 126.0f;
  const float u = b * b;
  const float j = ((0x1.0e4020p-7f * b + 0x1.573e2ep-5f) * u + (0x1.555e66p-3f * b + 0x1.fffdb6p-2f)) * u +
                  0x1.ffffecp-1f * b;
  if (!c) return j * k + k;
  const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
  const float s1 = from_bits(g + 0x7f000000u);
  const float s2 = from_bits(e - g);
  if (std::fabs(n) > 192.0f) return s1 * s1;
  return (s2 * j + s2) * s1;
}

// ggml_v_silu: x / (1 + exp(0 - x)).
inline float v_silu(float x) { return x / (1.0f + v_expf(0.0f - x)); }

// ggml_silu_f32, the remainder of a row: libm's expf.
inline float silu_tail(float x) { return x / (1.0f + std::exp(-x)); }

// ggml's SSE2 horizontal sum of 4 floats: (v0 + v1) + (v2 + v3).
inline float sum4(const float* v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// ggml's soft_max row: x[i] = v_expf(x[i] - max) on the groups of 4 (by
// exp4(x, n4, max), an ISA's loop of v_expf), each group summed by sum4
// and added to a double, expf on the rest, then one float reciprocal.
template <class Exp4>
void softmax_row(float* x, int64_t n, Exp4 exp4) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::fmax(mx, x[i]);
  const int64_t n4 = n & ~int64_t{3};
  exp4(x, n4, mx);
  double sum = 0;
  for (int64_t i = 0; i < n4; i += 4) sum += sum4(x + i);
  for (int64_t i = n4; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace moerun::ggml_exp
