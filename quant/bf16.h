// BF16: bfloat16 (ggml_bf16_t, the top half of an f32), one element per
// "block". Conversions in quant/half.cpp; the dot accumulates in double as
// ggml's scalar ggml_vec_dot_bf16 (ggml-cpu/vec.cpp, ggml_float).
#pragma once

#include <cstdint>

#include "quant/format.h"

namespace moerun {

inline void dequantize_row_bf16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(h[i]);
}

inline void quantize_row_bf16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(src[i]);
}

inline float vec_dot_bf16_bf16(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const uint16_t*>(w);
  const auto* y = static_cast<const uint16_t*>(a);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    sum += static_cast<double>(bf16_to_f32(x[i])) * bf16_to_f32(y[i]);
  }
  return static_cast<float>(sum);
}

}  // namespace moerun
