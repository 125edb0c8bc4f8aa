// Q5_1: 32 weights as 5-bit levels with an f16 scale and an f16 offset,
// x = d*q + m. Layout from ggml-common.h block_q5_1; quantizer from
// ggml-quants.c quantize_row_q5_1_ref; dot from ggml-cpu/quants.c
// vec_dot_q5_1_q8_1.
#pragma once

#include <cfloat>
#include <cstdint>
#include <cstring>

#include "quant/format.h"
#include "quant/q5_0.h"
#include "quant/q8_1.h"

namespace moerun {

struct BlockQ5_1 {
  static constexpr int kSize = 32;
  uint16_t d;              // f16 scale
  uint16_t m;              // f16 offset (the block minimum)
  uint8_t qh[4];           // little-endian u32: bit j = bit 4 of element j
  uint8_t qs[kSize / 2];   // low 4 bits: element j low nibble, j+16 high
};
static_assert(sizeof(BlockQ5_1) == 2 * sizeof(uint16_t) + sizeof(uint32_t) +
                                       BlockQ5_1::kSize / 2,
              "block_q5_1 is 24 bytes in ggml");

inline void dequantize_row_q5_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / BlockQ5_1::kSize; ++i, dst += BlockQ5_1::kSize) {
    const float d = f16_to_f32(b[i].d);
    const float m = f16_to_f32(b[i].m);
    const uint32_t qh = load_qh(b[i].qh);
    for (int j = 0; j < BlockQ5_1::kSize; ++j) {
      dst[j] = q5_level(b[i].qs, qh, j) * d + m;
    }
  }
}

// Levels span [min, max] in 31 steps. Unlike Q4_1, ggml's ref does not clamp
// at 31: (x - min) * id + 0.5 stays below 32 because x <= max.
inline void quantize_row_q5_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_1*>(dst);
  for (int64_t i = 0; i < n / BlockQ5_1::kSize; ++i, src += BlockQ5_1::kSize) {
    float lo = FLT_MAX;
    float hi = -FLT_MAX;
    for (int j = 0; j < BlockQ5_1::kSize; ++j) {
      if (src[j] < lo) lo = src[j];
      if (src[j] > hi) hi = src[j];
    }
    const float d = (hi - lo) / 31;
    const float id = d ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    b[i].m = f32_to_f16(lo);
    uint32_t qh = 0;
    for (int j = 0; j < BlockQ5_1::kSize / 2; ++j) {
      const auto q0 = static_cast<uint8_t>((src[j] - lo) * id + 0.5f);
      const auto q1 = static_cast<uint8_t>((src[j + 16] - lo) * id + 0.5f);
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>((q0 & 0x10u) >> 4) << j;
      qh |= static_cast<uint32_t>((q1 & 0x10u) >> 4) << (j + 16);
    }
    std::memcpy(b[i].qh, &qh, sizeof(qh));
  }
}

inline float vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  float sum = 0;
  for (int64_t i = 0; i < n / BlockQ5_1::kSize; ++i) {
    const uint32_t qh = load_qh(x[i].qh);
    int sumi = 0;
    for (int j = 0; j < BlockQ5_1::kSize; ++j) {
      sumi += q5_level(x[i].qs, qh, j) * y[i].qs[j];
    }
    sum += (f16_to_f32(x[i].d) * f16_to_f32(y[i].d)) * sumi +
           f16_to_f32(x[i].m) * f16_to_f32(y[i].s);
  }
  return sum;
}

}  // namespace moerun
