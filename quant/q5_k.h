// Q5_K: as Q4_K with a fifth bit per weight; x = d*sc_j*q - dmin*m_j with
// q in [0, 31]. Layout from ggml-common.h block_q5_K; quantizer from
// ggml-quants.c quantize_row_q5_K_ref (no importance matrix); dot from
// ggml-cpu/quants.c vec_dot_q5_K_q8_K.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "quant/block_common.h"
#include "quant/format.h"
#include "quant/q8_k.h"

namespace moerun {

struct BlockQ5_K {
  static constexpr int kSize = kSuperBlock;
  uint16_t d;              // f16 super-scale of the 6-bit scales
  uint16_t dmin;           // f16 super-scale of the 6-bit mins
  uint8_t scales[12];      // 8 (scale, min) pairs, see pack_scale_min_k4
  uint8_t qh[kSize / 8];   // bit 2c of qh[l]: bit 4 of element 64c + l,
                           // bit 2c+1: bit 4 of element 64c + 32 + l
  uint8_t qs[kSize / 2];   // low 4 bits, packed as in Q4_K
};
static_assert(sizeof(BlockQ5_K) == 2 * sizeof(uint16_t) + 12 +
                                       BlockQ5_K::kSize / 2 +
                                       BlockQ5_K::kSize / 8,
              "block_q5_K is 176 bytes in ggml");

// 5-bit level of element e (0..255).
inline int q5_k_level(const BlockQ5_K& b, int e) {
  const int c = e / 64;
  const int l = e % 32;
  const bool upper = (e % 64) >= 32;
  const uint8_t byte = b.qs[32 * c + l];
  const int low = upper ? (byte >> 4) : (byte & 0x0F);
  const int high = (b.qh[l] >> (2 * c + (upper ? 1 : 0))) & 1;
  return low | (high << 4);
}

inline void dequantize_row_q5_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_K*>(src);
  for (int64_t i = 0; i < n / BlockQ5_K::kSize; ++i, dst += BlockQ5_K::kSize) {
    const float d = f16_to_f32(b[i].d);
    const float dmin = f16_to_f32(b[i].dmin);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min_k4(j, b[i].scales, &sc, &m);
      const float dj = d * sc;
      const float mj = dmin * m;
      for (int l = 0; l < 32; ++l) {
        dst[32 * j + l] = dj * q5_k_level(b[i], 32 * j + l) - mj;
      }
    }
  }
}

// ggml's Q5_K grid: nmax 31, rmin -0.5, rdelta 0.1, 15 steps.
inline void quantize_row_q5_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_K*>(dst);
  uint8_t L[kSuperBlock];
  for (int64_t i = 0; i < n / BlockQ5_K::kSize; ++i, src += BlockQ5_K::kSize) {
    const KScaleMin dm = quantize_k_scale_min(src, 31, -0.5f, 0.1f, 15, L, b[i].scales);
    b[i].d = dm.d;
    b[i].dmin = dm.dmin;
    std::memset(b[i].qh, 0, sizeof(b[i].qh));
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int q0 = L[64 * c + l];
        const int q1 = L[64 * c + 32 + l];
        b[i].qs[32 * c + l] =
            static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
        b[i].qh[l] |= static_cast<uint8_t>(((q0 >> 4) << (2 * c)) |
                                           ((q1 >> 4) << (2 * c + 1)));
      }
    }
  }
}

inline float vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ5_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float sum = 0;
  for (int64_t i = 0; i < n / BlockQ5_K::kSize; ++i) {
    int sumi = 0;
    int summins = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min_k4(j, x[i].scales, &sc, &m);
      int dot = 0;
      for (int l = 0; l < 32; ++l) {
        dot += q5_k_level(x[i], 32 * j + l) * y[i].qs[32 * j + l];
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
