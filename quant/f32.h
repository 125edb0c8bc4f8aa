// F32: plain IEEE binary32, one element per "block". Quantize/dequantize are
// copies; the dot accumulates in double as ggml's scalar ggml_vec_dot_f32.
#pragma once

#include <cstdint>
#include <cstring>

#include "quant/format.h"

namespace moerun {

inline void dequantize_row_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

inline void quantize_row_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

inline float vec_dot_f32_f32(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  double sum = 0;
  // Each product rounded to float first, as ggml's portable dot does.
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
  return static_cast<float>(sum);
}

}  // namespace moerun
