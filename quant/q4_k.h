// Q4_K: super-blocks of 256 weights = 8 sub-blocks of 32, each with a 6-bit
// scale and a 6-bit min; x = d*sc_j*q - dmin*m_j with q in [0, 15].
// Layout from ggml-common.h block_q4_K; quantizer from ggml-quants.c
// quantize_row_q4_K_ref (no importance matrix); dot from ggml-cpu/quants.c
// vec_dot_q4_K_q8_K.
#pragma once

#include <cmath>
#include <cstdint>

#include "quant/block_common.h"
#include "quant/format.h"
#include "quant/q8_k.h"

namespace moerun {

struct BlockQ4_K {
  static constexpr int kSize = kSuperBlock;
  uint16_t d;              // f16 super-scale of the 6-bit scales
  uint16_t dmin;           // f16 super-scale of the 6-bit mins
  uint8_t scales[12];      // 8 (scale, min) pairs, see pack_scale_min_k4
  uint8_t qs[kSize / 2];   // per 64 elements: 32 bytes, low nibble = element
                           // l, high nibble = element l + 32
};
static_assert(sizeof(BlockQ4_K) ==
                  2 * sizeof(uint16_t) + 12 + BlockQ4_K::kSize / 2,
              "block_q4_K is 144 bytes in ggml");

// 4-bit level of element e (0..255).
inline int q4_k_level(const BlockQ4_K& b, int e) {
  const uint8_t byte = b.qs[32 * (e / 64) + e % 32];
  return (e % 64) < 32 ? (byte & 0x0F) : (byte >> 4);
}

inline void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / BlockQ4_K::kSize; ++i, dst += BlockQ4_K::kSize) {
    const float d = f16_to_f32(b[i].d);
    const float dmin = f16_to_f32(b[i].dmin);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min_k4(j, b[i].scales, &sc, &m);
      const float dj = d * sc;
      const float mj = dmin * m;
      for (int l = 0; l < 32; ++l) {
        dst[32 * j + l] = dj * q4_k_level(b[i], 32 * j + l) - mj;
      }
    }
  }
}

// ggml's Q4_K grid: nmax 15, rmin -1, rdelta 0.1, 20 steps.
inline void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_K*>(dst);
  uint8_t L[kSuperBlock];
  for (int64_t i = 0; i < n / BlockQ4_K::kSize; ++i, src += BlockQ4_K::kSize) {
    const KScaleMin dm = quantize_k_scale_min(src, 15, -1.f, 0.1f, 20, L, b[i].scales);
    b[i].d = dm.d;
    b[i].dmin = dm.dmin;
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        b[i].qs[32 * c + l] =
            static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
      }
    }
  }
}

inline float vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sum = 0;
  for (int64_t i = 0; i < n / BlockQ4_K::kSize; ++i) {
    int sumi = 0;     // sum_j sc_j * sum(q * a) over sub-block j
    int summins = 0;  // sum_j m_j * sum(a) over sub-block j, from bsums
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min_k4(j, x[i].scales, &sc, &m);
      int dot = 0;
      for (int l = 0; l < 32; ++l) {
        dot += q4_k_level(x[i], 32 * j + l) * y[i].qs[32 * j + l];
      }
      sumi += sc * dot;
      summins += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    sum += f16_to_f32(x[i].d) * y[i].d * sumi;
    sum -= f16_to_f32(x[i].dmin) * y[i].d * summins;
  }
  return sum;
}

}  // namespace moerun
