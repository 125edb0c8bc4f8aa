// Q4_1: 32 weights as 4-bit levels with an f16 scale and an f16 offset,
// x = d*q + m. Layout from ggml-common.h block_q4_1; quantizer from
// ggml-quants.c quantize_row_q4_1_ref; dot from ggml-cpu/quants.c
// vec_dot_q4_1_q8_1 (the offset term uses the activation's s = d*sum(q)).
#pragma once

#include <cfloat>
#include <cstdint>

#include "quant/format.h"
#include "quant/q8_1.h"

namespace moerun {

struct BlockQ4_1 {
  static constexpr int kSize = 32;
  uint16_t d;              // f16 scale
  uint16_t m;              // f16 offset (the block minimum)
  uint8_t qs[kSize / 2];   // element j in the low nibble of qs[j], j+16 high
};
static_assert(sizeof(BlockQ4_1) == 2 * sizeof(uint16_t) + BlockQ4_1::kSize / 2,
              "block_q4_1 is 20 bytes in ggml");

inline void dequantize_row_q4_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / BlockQ4_1::kSize; ++i, dst += BlockQ4_1::kSize) {
    const float d = f16_to_f32(b[i].d);
    const float m = f16_to_f32(b[i].m);
    for (int j = 0; j < BlockQ4_1::kSize / 2; ++j) {
      dst[j] = (b[i].qs[j] & 0x0F) * d + m;
      dst[j + 16] = (b[i].qs[j] >> 4) * d + m;
    }
  }
}

// Levels span [min, max] in 15 steps; rounding uses the f32 min and d.
inline void quantize_row_q4_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_1*>(dst);
  for (int64_t i = 0; i < n / BlockQ4_1::kSize; ++i, src += BlockQ4_1::kSize) {
    float lo = FLT_MAX;
    float hi = -FLT_MAX;
    for (int j = 0; j < BlockQ4_1::kSize; ++j) {
      if (src[j] < lo) lo = src[j];
      if (src[j] > hi) hi = src[j];
    }
    const float d = (hi - lo) / 15;
    const float id = d ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    b[i].m = f32_to_f16(lo);
    for (int j = 0; j < BlockQ4_1::kSize / 2; ++j) {
      const int q0 = static_cast<int8_t>((src[j] - lo) * id + 0.5f);
      const int q1 = static_cast<int8_t>((src[j + 16] - lo) * id + 0.5f);
      b[i].qs[j] = static_cast<uint8_t>((q0 < 15 ? q0 : 15) |
                                        ((q1 < 15 ? q1 : 15) << 4));
    }
  }
}

inline float vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sum = 0;
  for (int64_t i = 0; i < n / BlockQ4_1::kSize; ++i) {
    int sumi = 0;
    for (int j = 0; j < BlockQ4_1::kSize / 2; ++j) {
      sumi += (x[i].qs[j] & 0x0F) * y[i].qs[j];
      sumi += (x[i].qs[j] >> 4) * y[i].qs[j + 16];
    }
    // sum_j (d q_j + m) a_j = d_w d_a sumi + m * (d_a sum(q_a))
    sum += (f16_to_f32(x[i].d) * f16_to_f32(y[i].d)) * sumi +
           f16_to_f32(x[i].m) * f16_to_f32(y[i].s);
  }
  return sum;
}

}  // namespace moerun
