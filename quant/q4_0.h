// Q4_0: 32 weights as 4-bit signed levels times one f16 scale, x = d*(q-8).
// Layout from ggml-common.h block_q4_0; quantizer from ggml-quants.c
// quantize_row_q4_0_ref; dot from ggml-cpu/quants.c vec_dot_q4_0_q8_0.
#pragma once

#include <cmath>
#include <cstdint>

#include "quant/format.h"
#include "quant/q8_0.h"

namespace moerun {

struct BlockQ4_0 {
  static constexpr int kSize = 32;
  uint16_t d;              // f16 scale
  uint8_t qs[kSize / 2];   // element j in the low nibble of qs[j], j+16 high
};
static_assert(sizeof(BlockQ4_0) == sizeof(uint16_t) + BlockQ4_0::kSize / 2,
              "block_q4_0 is 18 bytes in ggml");

inline void dequantize_row_q4_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / BlockQ4_0::kSize; ++i, dst += BlockQ4_0::kSize) {
    const float d = f16_to_f32(b[i].d);
    for (int j = 0; j < BlockQ4_0::kSize / 2; ++j) {
      dst[j] = ((b[i].qs[j] & 0x0F) - 8) * d;
      dst[j + 16] = ((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}

// The element of largest magnitude maps exactly to level -8 (d = max / -8),
// so the asymmetric range [-8, 7] is used fully on that side.
inline void quantize_row_q4_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_0*>(dst);
  for (int64_t i = 0; i < n / BlockQ4_0::kSize; ++i, src += BlockQ4_0::kSize) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < BlockQ4_0::kSize; ++j) {
      if (amax < std::fabs(src[j])) {
        amax = std::fabs(src[j]);
        max = src[j];
      }
    }
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    for (int j = 0; j < BlockQ4_0::kSize / 2; ++j) {
      // ggml rounds by truncating x + 8.5 (x >= -8), then clamps at 15.
      const int lo = static_cast<int8_t>(src[j] * id + 8.5f);
      const int hi = static_cast<int8_t>(src[j + 16] * id + 8.5f);
      b[i].qs[j] = static_cast<uint8_t>((lo < 15 ? lo : 15) |
                                        ((hi < 15 ? hi : 15) << 4));
    }
  }
}

inline float vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sum = 0;
  for (int64_t i = 0; i < n / BlockQ4_0::kSize; ++i) {
    int sumi = 0;
    for (int j = 0; j < BlockQ4_0::kSize / 2; ++j) {
      sumi += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j];
      sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
    }
    sum += sumi * f16_to_f32(x[i].d) * f16_to_f32(y[i].d);
  }
  return sum;
}

}  // namespace moerun
