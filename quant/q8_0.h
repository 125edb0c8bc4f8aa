// Q8_0: 32 values as int8 times one f16 scale, x = d*q. A weight format and
// the activation format paired with Q4_0/Q5_0/Q8_0 weights.
// Layout from ggml-common.h block_q8_0; quantizer from ggml-quants.c
// quantize_row_q8_0_ref, activation quantizer from ggml-cpu/arch/x86/quants.c
// quantize_row_q8_0; dot from ggml-cpu/quants.c vec_dot_q8_0_q8_0.
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
    b[i].d = f32_to_f16(quantize_block_q8<false>(src, b[i].qs));
  }
}

// Activations: what llama.cpp's CPU backend runs on them on x86 (every
// AVX/AVX2/AVX-512 build), which is not the _ref rounding above: the same d,
// but levels are x * (127 / amax) rounded half to even. 127/amax and
// 1/(amax/127) differ by an ulp in ~30% of blocks, so a value next to a half
// can land on the other level: ~7e-5 of N(0,1) blocks, and real activations
// also hit exact halves. One moved level in a matmul input moves a small
// model's logits by ~1e-3 relative, far above the float-order noise. (ggml's
// generic build runs the _ref rounding and its NEON build 1/d with ties to
// even; moerun follows the x86 builds, the ones the golden tests compare
// against.)
inline void quantize_row_q8_0_act(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / BlockQ8_0::kSize; ++i, src += BlockQ8_0::kSize) {
    b[i].d = f32_to_f16(quantize_block_q8<true>(src, b[i].qs));
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
