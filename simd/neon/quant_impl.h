// NEON kernels for Q4_0 and Q8_0 weights x Q8_0 activations (the formats the
// shipped model's quantizations use first). Included by simd/neon/quant.cpp
// (ARMv8.0: vmull_s8 + vpadalq_s16) and simd/neon_dotprod/quant.cpp
// (ARMv8.2 dotprod: sdot), each in its own translation unit. NEON has a
// signed x signed dot, so levels are made signed (q - 8) and no offset
// correction is needed. The other formats inherit their parent row's kernels.
#pragma once

#include <arm_neon.h>

#include "quant/q4_0.h"
#include "quant/q8_0.h"
#include "simd/tile_driver.h"

namespace {

// acc + sum of 4 s8 x s8 products per int32 lane.
inline int32x4_t dot_s8(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, a, b);
#else
  const int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
  const int16x8_t hi = vmull_s8(vget_high_s8(a), vget_high_s8(b));
  return vpadalq_s16(vpadalq_s16(acc, lo), hi);
#endif
}

inline float f16(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

struct WQ4_0 {
  using Block = moerun::BlockQ4_0;
  static void levels(const Block& b, int8x16_t* lo, int8x16_t* hi) {
    const uint8x16_t q = vld1q_u8(b.qs);
    const int8x16_t eight = vdupq_n_s8(8);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F))), eight);
    *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
  }
};
struct WQ8_0 {
  using Block = moerun::BlockQ8_0;
  static void levels(const Block& b, int8x16_t* lo, int8x16_t* hi) {
    *lo = vld1q_s8(b.qs);
    *hi = vld1q_s8(b.qs + 16);
  }
};

template <class W>
struct Legacy {
  using Block = typename W::Block;
  using Act = moerun::BlockQ8_0;
  static constexpr int kGemvRows = 2;
  static constexpr int kGemmRows = 2;
  static constexpr int kGemmCols = 4;

  template <int NR, int NC>
  static void tile(const moerun::MatmulArgs& p, int64_t r0, int64_t c0) {
    const int64_t nb = p.K / Block::kSize;
    const Block* w[NR];
    const Act* a[NC];
    for (int r = 0; r < NR; ++r) w[r] = reinterpret_cast<const Block*>(p.w + (r0 + r) * p.w_stride);
    for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const Act*>(p.a + (c0 + c) * p.a_stride);
    float32x4_t acc[NR][NC];
    for (auto& row : acc)
      for (auto& v : row) v = vdupq_n_f32(0.f);
    for (int64_t i = 0; i < nb; ++i) {
      int8x16_t alo[NC], ahi[NC];
      float da[NC];
      for (int c = 0; c < NC; ++c) {
        alo[c] = vld1q_s8(a[c][i].qs);
        ahi[c] = vld1q_s8(a[c][i].qs + 16);
        da[c] = f16(a[c][i].d);
      }
      for (int r = 0; r < NR; ++r) {
        int8x16_t lo, hi;
        W::levels(w[r][i], &lo, &hi);
        const float dw = f16(w[r][i].d);
        for (int c = 0; c < NC; ++c) {
          const int32x4_t s = dot_s8(dot_s8(vdupq_n_s32(0), lo, alo[c]), hi, ahi[c]);
          acc[r][c] = vmlaq_n_f32(acc[r][c], vcvtq_f32_s32(s), dw * da[c]);
        }
      }
    }
    for (int c = 0; c < NC; ++c) {
      float* y = moerun::tiles::out_row(p, c0 + c) + r0;
      for (int r = 0; r < NR; ++r) y[r] = vaddvq_f32(acc[r][c]);
    }
  }
};

void install_neon(moerun::KernelTable& t) {
  moerun::tiles::install<Legacy<WQ4_0>>(t, moerun::QType::Q4_0);
  moerun::tiles::install<Legacy<WQ8_0>>(t, moerun::QType::Q8_0);
}

}  // namespace
