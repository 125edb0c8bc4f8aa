// Q8_0: 32 values as int8 times one f16 scale, x = d*q. A weight format and
// the activation format paired with Q4_0/Q5_0/Q8_0 weights.
// Layout from ggml-common.h block_q8_0; quantizer from ggml-quants.c
// quantize_row_q8_0_ref, for weights and activations alike: ggml's portable
// CPU build (the golden tests' reference) quantizes activations with it. Its
// AVX builds use x * (127 / amax) rounded half to even instead: 127/amax and
// 1/(amax/127) differ by an ulp in ~30% of blocks, so a value next to a half
// can land on the other level (~7e-5 of N(0,1) blocks), and one moved level
// moves a small model's logits by ~1e-3 relative. moerun follows one build
// to the bit, the one that computes the same on every machine. Dot from
// ggml-cpu/quants.c ggml_vec_dot_q8_0_q8_0_generic, in its order.
#pragma once

#include <cmath>
#include <cstdint>

#include "quant/block_common.h"
#include "quant/format.h"

namespace moerun {

struct BlockQ8_0 {
  static constexpr int kSize = 32;
  uint16_t d;          // f16 scale
  int8_t qs[kSize];    // levels in [-127, 127]
};
static_assert(sizeof(BlockQ8_0) == sizeof(uint16_t) + BlockQ8_0::kSize,
              "block_q8_0 is 34 bytes in ggml");

inline void dequantize_row_q8_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / BlockQ8_0::kSize; ++i, dst += BlockQ8_0::kSize) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < BlockQ8_0::kSize; ++j) dst[j] = b[i].qs[j] * d;
  }
}

// d = amax/127; levels round half away from zero (roundf), as ggml's ref.
// The scale used for rounding is the f32 d, not the stored f16 one.
inline void quantize_row_q8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / BlockQ8_0::kSize; ++i, src += BlockQ8_0::kSize) {
    b[i].d = f32_to_f16(quantize_block_q8(src, b[i].qs));
  }
}

inline float vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sum = 0;
  for (int64_t i = 0; i < n / BlockQ8_0::kSize; ++i) {
    int sumi = 0;
    for (int j = 0; j < BlockQ8_0::kSize; ++j) sumi += x[i].qs[j] * y[i].qs[j];
    sum += sumi * (f16_to_f32(x[i].d) * f16_to_f32(y[i].d));
  }
  return sum;
}

}  // namespace moerun
