// Q5_0: 32 weights as 5-bit signed levels times one f16 scale,
// x = d*(q-16). Layout from ggml-common.h block_q5_0; quantizer from
// ggml-quants.c quantize_row_q5_0_ref; dot from ggml-cpu/quants.c
// vec_dot_q5_0_q8_0.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "quant/format.h"
#include "quant/q8_0.h"

namespace moerun {

struct BlockQ5_0 {
  static constexpr int kSize = 32;
  uint16_t d;              // f16 scale
  uint8_t qh[4];           // little-endian u32: bit j = bit 4 of element j
  uint8_t qs[kSize / 2];   // low 4 bits: element j low nibble, j+16 high
};
static_assert(sizeof(BlockQ5_0) ==
                  sizeof(uint16_t) + sizeof(uint32_t) + BlockQ5_0::kSize / 2,
              "block_q5_0 is 22 bytes in ggml");

// The 5-bit level of element j (0..31) of a Q5_0/Q5_1 block.
inline int q5_level(const uint8_t* qs, uint32_t qh, int j) {
  const int low = j < 16 ? (qs[j] & 0x0F) : (qs[j - 16] >> 4);
  return low | static_cast<int>(((qh >> j) & 1u) << 4);
}

inline uint32_t load_qh(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof(v));  // GGUF is little-endian, as are our hosts
  return v;
}

inline void dequantize_row_q5_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < n / BlockQ5_0::kSize; ++i, dst += BlockQ5_0::kSize) {
    const float d = f16_to_f32(b[i].d);
    const uint32_t qh = load_qh(b[i].qh);
    for (int j = 0; j < BlockQ5_0::kSize; ++j) {
      dst[j] = (q5_level(b[i].qs, qh, j) - 16) * d;
    }
  }
}

// As Q4_0 with 16 in place of 8: the largest magnitude maps to level -16.
inline void quantize_row_q5_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_0*>(dst);
  for (int64_t i = 0; i < n / BlockQ5_0::kSize; ++i, src += BlockQ5_0::kSize) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < BlockQ5_0::kSize; ++j) {
      if (amax < std::fabs(src[j])) {
        amax = std::fabs(src[j]);
        max = src[j];
      }
    }
    const float d = max / -16;
    const float id = d ? 1.0f / d : 0.0f;
    b[i].d = f32_to_f16(d);
    uint32_t qh = 0;
    for (int j = 0; j < BlockQ5_0::kSize / 2; ++j) {
      int q0 = static_cast<int8_t>(src[j] * id + 16.5f);
      int q1 = static_cast<int8_t>(src[j + 16] * id + 16.5f);
      q0 = q0 < 31 ? q0 : 31;
      q1 = q1 < 31 ? q1 : 31;
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>(q0 >> 4) << j;
      qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
    }
    std::memcpy(b[i].qh, &qh, sizeof(qh));
  }
}

inline float vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  float sum = 0;
  for (int64_t i = 0; i < n / BlockQ5_0::kSize; ++i) {
    const uint32_t qh = load_qh(x[i].qh);
    int sumi = 0;
    for (int j = 0; j < BlockQ5_0::kSize; ++j) {
      sumi += (q5_level(x[i].qs, qh, j) - 16) * y[i].qs[j];
    }
    sum += (f16_to_f32(x[i].d) * f16_to_f32(y[i].d)) * sumi;
  }
  return sum;
}

}  // namespace moerun
