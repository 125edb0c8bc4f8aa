// The RMSNorm scale as llama.cpp computes it: each square rounded to float,
// the squares summed in double, the mean rounded to float, then
// 1 / sqrtf(mean + eps); callers apply it as (x * scale) * w. Matching this
// keeps moerun's normed activations equal to llama.cpp's to the last bit in
// most rows, so fewer of them cross a rounding boundary when they are
// quantized next (tests/oracle/README.md: how such flips move the logits).
// Shared by the scalar reference and every ISA (auto-vectorized there).
#pragma once

#include <cmath>
#include <cstdint>

namespace moerun {

inline float rms_scale(const float* x, int64_t n, float eps) {
  // Eight double accumulators: in double the order of the additions does not
  // show after the rounding to float (n * 2^-53 << 2^-24).
  double acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) {
      const float p = x[i + j] * x[i + j];
      acc[j] += p;
    }
  }
  for (; i < n; ++i) {
    const float p = x[i] * x[i];
    acc[0] += p;
  }
  const double sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  return 1.0f / std::sqrt(mean + eps);
}

}  // namespace moerun
