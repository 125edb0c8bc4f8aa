// Q8_1: Q8_0 plus s = d * sum(q), the activation format paired with Q4_1/Q5_1
// weights (their min term needs the activation sum). x = d*q.
// Layout from ggml-common.h block_q8_1; quantizer from ggml-quants.c
// quantize_row_q8_1_ref, activation quantizer from ggml-cpu/arch/x86/quants.c
// quantize_row_q8_1. ggml has no Q8_1 x Q8_1 dot; moerun's is plain.
#pragma once

#include <cmath>
#include <cstdint>

#include "quant/block_common.h"
#include "quant/format.h"

namespace moerun {

struct BlockQ8_1 {
  static constexpr int kSize = 32;
  uint16_t d;          // f16 scale
  uint16_t s;          // f16 of d * sum(qs)
  int8_t qs[kSize];    // levels in [-127, 127]
};
static_assert(sizeof(BlockQ8_1) == 2 * sizeof(uint16_t) + BlockQ8_1::kSize,
              "block_q8_1 is 36 bytes in ggml");

inline void dequantize_row_q8_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_1*>(src);
  for (int64_t i = 0; i < n / BlockQ8_1::kSize; ++i, dst += BlockQ8_1::kSize) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < BlockQ8_1::kSize; ++j) dst[j] = b[i].qs[j] * d;
  }
}

// d and the levels as Q8_0's (block_common.h quantize_block_q8); s = d *
// sum(levels) with the f32 d, as ggml.
inline void quantize_row_q8_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / BlockQ8_1::kSize; ++i, src += BlockQ8_1::kSize) {
    const float d = quantize_block_q8(src, b[i].qs);
    b[i].d = f32_to_f16(d);
    int sum = 0;
    for (int j = 0; j < BlockQ8_1::kSize; ++j) sum += b[i].qs[j];
    b[i].s = f32_to_f16(sum * d);
  }
}


inline float vec_dot_q8_1_q8_1(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ8_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sum = 0;
  for (int64_t i = 0; i < n / BlockQ8_1::kSize; ++i) {
    int sumi = 0;
    for (int j = 0; j < BlockQ8_1::kSize; ++j) sumi += x[i].qs[j] * y[i].qs[j];
    sum += sumi * (f16_to_f32(x[i].d) * f16_to_f32(y[i].d));
  }
  return sum;
}

}  // namespace moerun
