// Q8_K: 256 values as int8 times one f32 scale, plus the sum of each group of
// 16 levels. The activation format paired with all K-quant weights; bsums let
// Q4_K/Q5_K apply their per-sub-block mins without touching the levels.
// Layout from ggml-common.h block_q8_K; quantizer from ggml-quants.c
// quantize_row_q8_K_ref (also what ggml's CPU backend runs on x86).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "quant/block_common.h"
#include "quant/format.h"

namespace moerun {

struct BlockQ8_K {
  static constexpr int kSize = kSuperBlock;
  float d;                     // f32 scale
  int8_t qs[kSize];            // levels in [-128, 127]
  int16_t bsums[kSize / 16];   // bsums[g] = sum of qs[16g .. 16g+15]
};
static_assert(sizeof(BlockQ8_K) == sizeof(float) + BlockQ8_K::kSize +
                                       BlockQ8_K::kSize / 16 * sizeof(int16_t),
              "block_q8_K is 292 bytes in ggml");

inline void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_K*>(src);
  for (int64_t i = 0; i < n / BlockQ8_K::kSize; ++i, dst += BlockQ8_K::kSize) {
    for (int j = 0; j < BlockQ8_K::kSize; ++j) dst[j] = b[i].d * b[i].qs[j];
  }
}

// The signed extreme maps to -127 (ggml uses 127, not 128, so that IQ2
// kernels can negate levels); the opposite side may round to +127 at most.
inline void quantize_row_q8_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  for (int64_t i = 0; i < n / BlockQ8_K::kSize; ++i, src += BlockQ8_K::kSize) {
    float max = 0;
    float amax = 0;
    for (int j = 0; j < BlockQ8_K::kSize; ++j) {
      const float ax = std::fabs(src[j]);
      if (ax > amax) {
        amax = ax;
        max = src[j];
      }
    }
    if (!amax) {
      // ggml leaves bsums unwritten here; moerun zeroes them (they are 0).
      std::memset(&b[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < BlockQ8_K::kSize; ++j) {
      const int v = nearest_int(iscale * src[j]);
      b[i].qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
    }
    for (int g = 0; g < BlockQ8_K::kSize / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b[i].qs[16 * g + l];
      b[i].bsums[g] = static_cast<int16_t>(sum);
    }
    b[i].d = 1 / iscale;
  }
}

inline float vec_dot_q8_k_q8_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ8_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sum = 0;
  for (int64_t i = 0; i < n / BlockQ8_K::kSize; ++i) {
    int sumi = 0;
    for (int j = 0; j < BlockQ8_K::kSize; ++j) sumi += x[i].qs[j] * y[i].qs[j];
    sum += (x[i].d * y[i].d) * sumi;
  }
  return sum;
}

}  // namespace moerun
