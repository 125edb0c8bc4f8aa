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

// Per sub-block: weighted (scale, min) fit with make_qkx2_quants, weights
// rms(x) + |x|; then scales and mins are quantized to 6 bits against the
// largest of each, and the levels are recomputed with the stored values.
inline void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_K*>(dst);
  uint8_t L[kSuperBlock];
  uint8_t aux[32];
  float weights[32];
  float mins[8];
  float scales[8];
  for (int64_t i = 0; i < n / BlockQ4_K::kSize; ++i, src += BlockQ4_K::kSize) {
    float max_scale = 0;
    float max_min = 0;
    for (int j = 0; j < 8; ++j) {
      const float* x = src + 32 * j;
      float sum_x2 = 0;
      for (int l = 0; l < 32; ++l) sum_x2 += x[l] * x[l];
      const float av_x = std::sqrt(sum_x2 / 32);
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[l]);
      // ggml's search grid for Q4_K: nmax 15, rmin -1, rdelta 0.1, 20 steps.
      scales[j] = make_qkx2_quants(32, 15, x, weights, L + 32 * j, &mins[j],
                                   aux, -1.f, 0.1f, 20, false);
      if (scales[j] > max_scale) max_scale = scales[j];
      if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
      // uint8_t wrap then clamp, exactly as ggml.
      ls[j] = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
      lm[j] = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
      if (ls[j] > 63) ls[j] = 63;
      if (lm[j] > 63) lm[j] = 63;
    }
    pack_scale_min_k4(ls, lm, b[i].scales);
    b[i].d = f32_to_f16(max_scale / 63.f);
    b[i].dmin = f32_to_f16(max_min / 63.f);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min_k4(j, b[i].scales, &sc, &m);
      const float d = f16_to_f32(b[i].d) * sc;
      if (!d) continue;  // keep the fit's levels, as ggml
      const float dm = f16_to_f32(b[i].dmin) * m;
      for (int l = 0; l < 32; ++l) {
        const int q = nearest_int((src[32 * j + l] + dm) / d);
        L[32 * j + l] = static_cast<uint8_t>(q < 0 ? 0 : (q > 15 ? 15 : q));
      }
    }
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
