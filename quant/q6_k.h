// Q6_K: super-blocks of 256 weights = 16 sub-blocks of 16, each with an
// int8 scale; x = d*sc_j*(q-32) with q in [0, 63].
// Layout from ggml-common.h block_q6_K; quantizer from ggml-quants.c
// quantize_row_q6_K_ref (no importance matrix); dot from ggml-cpu/quants.c
// vec_dot_q6_K_q8_K.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "quant/block_common.h"
#include "quant/format.h"
#include "quant/q8_k.h"

namespace moerun {

struct BlockQ6_K {
  static constexpr int kSize = kSuperBlock;
  uint8_t ql[kSize / 2];    // low 4 bits; per 128 elements, 64 bytes:
                            // ql[l] = e(l) | e(l+64) << 4,
                            // ql[l+32] = e(l+32) | e(l+96) << 4
  uint8_t qh[kSize / 4];    // high 2 bits; per 128 elements, 32 bytes:
                            // qh[l] = e(l) | e(l+32)<<2 | e(l+64)<<4 | e(l+96)<<6
  int8_t scales[kSize / 16];  // one per 16 elements
  uint16_t d;               // f16 super-scale
};
static_assert(sizeof(BlockQ6_K) ==
                  sizeof(uint16_t) + BlockQ6_K::kSize / 16 +
                      3 * BlockQ6_K::kSize / 4,
              "block_q6_K is 210 bytes in ggml");

// 6-bit level (0..63, before the -32 offset) of element e (0..255).
inline int q6_k_level(const BlockQ6_K& b, int e) {
  const int half = e / 128;    // which 128-element half
  const int quarter = (e % 128) / 32;  // which 32 within the half
  const int l = e % 32;
  const uint8_t lo_byte = b.ql[64 * half + 32 * (quarter & 1) + l];
  const int low = quarter < 2 ? (lo_byte & 0x0F) : (lo_byte >> 4);
  const int high = (b.qh[32 * half + l] >> (2 * quarter)) & 3;
  return low | (high << 4);
}

inline void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / BlockQ6_K::kSize; ++i, dst += BlockQ6_K::kSize) {
    const float d = f16_to_f32(b[i].d);
    for (int e = 0; e < BlockQ6_K::kSize; ++e) {
      dst[e] = d * b[i].scales[e / 16] * (q6_k_level(b[i], e) - 32);
    }
  }
}

// Per 16-element sub-block: symmetric fit with make_qx_quants (nmax 32,
// weights x^2); the 16 scales are then quantized to int8 against the one of
// largest magnitude (which maps to -128), and the levels recomputed.
inline void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ6_K*>(dst);
  int8_t L[kSuperBlock];
  float scales[16];
  for (int64_t i = 0; i < n / BlockQ6_K::kSize; ++i, src += BlockQ6_K::kSize) {
    float max_scale = 0;
    float max_abs_scale = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = make_qx_quants(16, 32, src + 16 * j, L + 16 * j);
      const float abs_scale = std::fabs(scales[j]);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scales[j];
      }
    }
    if (max_abs_scale < 1e-15f) {  // ggml GROUP_MAX_EPS: all-zero block
      std::memset(&b[i], 0, sizeof(BlockQ6_K));
      continue;
    }
    const float iscale = -128.f / max_scale;
    b[i].d = f32_to_f16(1 / iscale);
    for (int j = 0; j < 16; ++j) {
      const int s = nearest_int(iscale * scales[j]);
      b[i].scales[j] = static_cast<int8_t>(s < 127 ? s : 127);
    }
    for (int j = 0; j < 16; ++j) {
      const float d = f16_to_f32(b[i].d) * b[i].scales[j];
      if (!d) continue;  // keep the fit's levels, as ggml
      for (int l = 0; l < 16; ++l) {
        int q = nearest_int(src[16 * j + l] / d);
        q = q < -32 ? -32 : (q > 31 ? 31 : q);
        L[16 * j + l] = static_cast<int8_t>(q + 32);
      }
    }
    for (int half = 0; half < 2; ++half) {
      const int8_t* q = L + 128 * half;
      uint8_t* ql = b[i].ql + 64 * half;
      uint8_t* qh = b[i].qh + 32 * half;
      for (int l = 0; l < 32; ++l) {
        ql[l] = static_cast<uint8_t>((q[l] & 0xF) | ((q[l + 64] & 0xF) << 4));
        ql[l + 32] =
            static_cast<uint8_t>((q[l + 32] & 0xF) | ((q[l + 96] & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) |
                                     ((q[l + 64] >> 4) << 4) |
                                     ((q[l + 96] >> 4) << 6));
      }
    }
  }
}

// In the float order of ggml's generic kernel (ggml-cpu/quants.c
// ggml_vec_dot_q6_K_q8_K_generic), which llama.cpp's portable build runs and
// the golden tests compare with: per super-block, 8 int32 sums, sum l over
// the positions p with p % 8 == l (exact in any order); each converted,
// times d = f16(x.d) * y.d, added to float lane l (multiply and add rounded
// apart: the build has -ffp-contract=off); the 8 lanes summed in order at
// the end. Every SIMD Q6_K kernel reproduces these floats bit for bit: on
// tiny models a last-bit difference can flip the next activation's int8
// rounding and then a routing decision.
inline float vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  float lanes[8] = {};
  for (int64_t i = 0; i < n / BlockQ6_K::kSize; ++i) {
    int32_t sums[8] = {};
    for (int p = 0; p < BlockQ6_K::kSize; ++p) {
      sums[p % 8] += x[i].scales[p / 16] * ((q6_k_level(x[i], p) - 32) * y[i].qs[p]);
    }
    const float d = f16_to_f32(x[i].d) * y[i].d;
    for (int l = 0; l < 8; ++l) lanes[l] += d * static_cast<float>(sums[l]);
  }
  float sum = 0;
  for (float v : lanes) sum += v;
  return sum;
}

}  // namespace moerun
