// NEON kernels for the weight formats the models use: Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q4_K, Q5_K, Q6_K and F16/BF16/F32. Included by
// simd/neon/quant.cpp (ARMv8.0: vmull_s8 + vpadalq_s16) and
// simd/neon_dotprod/quant.cpp (ARMv8.2 dotprod: sdot), each in its own
// translation unit. NEON has a signed x signed dot, so offset levels are
// made signed before the dot (Q4_0: q - 8, Q5_0: q - 16, Q6_K: q - 32, in
// widening multiplies) and need no correction afterwards; levels that stay
// unsigned (Q4_1, Q5_1, Q4_K, Q5_K: at most 31) fit s8 as they are.
#pragma once

#include <arm_neon.h>

#include <cstring>
#include <type_traits>

#include "quant/q4_0.h"
#include "quant/q4_1.h"
#include "quant/q4_k.h"
#include "quant/q5_0.h"
#include "quant/q5_1.h"
#include "quant/q5_k.h"
#include "quant/q6_k.h"
#include "quant/q8_0.h"
#include "quant/q8_1.h"
#include "quant/q8_k.h"
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
  using Act = moerun::BlockQ8_0;
  static constexpr bool kMin = false;
  static void levels(const Block& b, int8x16_t* lo, int8x16_t* hi) {
    const uint8x16_t q = vld1q_u8(b.qs);
    const int8x16_t eight = vdupq_n_s8(8);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F))), eight);
    *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
  }
};
// Q4_1 x Q8_1: levels 0..15 as they are; the offset term m * s is added
// per block in f32 (s = d_a * sum(a), carried by the activation block).
struct WQ4_1 {
  using Block = moerun::BlockQ4_1;
  using Act = moerun::BlockQ8_1;
  static constexpr bool kMin = true;
  static void levels(const Block& b, int8x16_t* lo, int8x16_t* hi) {
    const uint8x16_t q = vld1q_u8(b.qs);
    *lo = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F)));
    *hi = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
  }
};
// Q5_0 / Q5_1 bit 4 of 16 elements: 0x10 in byte j where bit j of the
// little-endian qh[0..1] is set (elements 0..15 from qh, 16..31 from qh + 2).
// Each qh byte is broadcast to 8 lanes and tested against that lane's bit,
// as simd/avx2/quant_impl.h high_bits.
inline uint8x16_t high_bits(const uint8_t* qh) {
  const uint8x16_t spread = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
  const uint8x16_t bit = vreinterpretq_u8_u64(vdupq_n_u64(0x8040201008040201ULL));
  return vandq_u8(vtstq_u8(spread, bit), vdupq_n_u8(0x10));
}
// Q5_0 x Q8_0: levels 0..31 made signed (q - 16, in [-16, 15]), as Q4_0.
struct WQ5_0 {
  using Block = moerun::BlockQ5_0;
  using Act = moerun::BlockQ8_0;
  static constexpr bool kMin = false;
  static void levels(const Block& b, int8x16_t* lo, int8x16_t* hi) {
    const uint8x16_t q = vld1q_u8(b.qs);
    const int8x16_t sixteen = vdupq_n_s8(16);
    const uint8x16_t ulo = vorrq_u8(vandq_u8(q, vdupq_n_u8(0x0F)), high_bits(b.qh));
    const uint8x16_t uhi = vorrq_u8(vshrq_n_u8(q, 4), high_bits(b.qh + 2));
    *lo = vsubq_s8(vreinterpretq_s8_u8(ulo), sixteen);
    *hi = vsubq_s8(vreinterpretq_s8_u8(uhi), sixteen);
  }
};
// Q5_1 x Q8_1: levels 0..31 as they are, offset term as Q4_1.
struct WQ5_1 {
  using Block = moerun::BlockQ5_1;
  using Act = moerun::BlockQ8_1;
  static constexpr bool kMin = true;
  static void levels(const Block& b, int8x16_t* lo, int8x16_t* hi) {
    const uint8x16_t q = vld1q_u8(b.qs);
    *lo = vreinterpretq_s8_u8(vorrq_u8(vandq_u8(q, vdupq_n_u8(0x0F)), high_bits(b.qh)));
    *hi = vreinterpretq_s8_u8(vorrq_u8(vshrq_n_u8(q, 4), high_bits(b.qh + 2)));
  }
};
struct WQ8_0 {
  using Block = moerun::BlockQ8_0;
  using Act = moerun::BlockQ8_0;
  static constexpr bool kMin = false;
  static void levels(const Block& b, int8x16_t* lo, int8x16_t* hi) {
    *lo = vld1q_s8(b.qs);
    *hi = vld1q_s8(b.qs + 16);
  }
};

template <class W>
struct Legacy {
  using Block = typename W::Block;
  using Act = typename W::Act;
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
    float macc[NR][NC] = {};  // offset terms (kMin only)
    for (int64_t i = 0; i < nb; ++i) {
      int8x16_t alo[NC], ahi[NC];
      float da[NC], sa[NC];
      for (int c = 0; c < NC; ++c) {
        alo[c] = vld1q_s8(a[c][i].qs);
        ahi[c] = vld1q_s8(a[c][i].qs + 16);
        da[c] = f16(a[c][i].d);
        if constexpr (W::kMin) sa[c] = f16(a[c][i].s);
      }
      for (int r = 0; r < NR; ++r) {
        int8x16_t lo, hi;
        W::levels(w[r][i], &lo, &hi);
        const float dw = f16(w[r][i].d);
        for (int c = 0; c < NC; ++c) {
          const int32x4_t s = dot_s8(dot_s8(vdupq_n_s32(0), lo, alo[c]), hi, ahi[c]);
          acc[r][c] = vmlaq_n_f32(acc[r][c], vcvtq_f32_s32(s), dw * da[c]);
        }
        if constexpr (W::kMin) {
          const float m = f16(w[r][i].m);
          for (int c = 0; c < NC; ++c) macc[r][c] += m * sa[c];
        }
      }
    }
    for (int c = 0; c < NC; ++c) {
      float* y = moerun::tiles::out_row(p, c0 + c) + r0;
      for (int r = 0; r < NR; ++r) y[r] = vaddvq_f32(acc[r][c]) + macc[r][c];
    }
  }
};

// Q4_K / Q5_K scales: the 8 (scale, min) 6-bit pairs of the 12 packed bytes
// (quant/block_common.h unpack_scale_min_k4), all at once with 32-bit masks.
inline void unpack_scales_k4(const uint8_t* q, uint8_t* sc, uint8_t* m) {
  uint32_t u[3];
  std::memcpy(u, q, 12);
  const uint32_t s03 = u[0] & 0x3f3f3f3fu;
  const uint32_t s47 = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
  const uint32_t m03 = u[1] & 0x3f3f3f3fu;
  const uint32_t m47 = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
  std::memcpy(sc, &s03, 4);
  std::memcpy(sc + 4, &s47, 4);
  std::memcpy(m, &m03, 4);
  std::memcpy(m + 4, &m47, 4);
}

// Q4_K / Q5_K x Q8_K: qs chunk c (32 bytes) holds sub-block 2c (low nibbles)
// and 2c+1 (high). Each sub-block's int32 dot is scaled by its 6-bit scale in
// integers (per lane and super-block |sum| <= 8 * 63 * 8 * 31 * 128 < 2^24,
// so the conversion to f32 is exact); the mins term comes from the
// activation's bsums (pairs of 16-sums = one sub-block), so the levels are
// never offset.
template <bool kFiveBit>
struct KQ4 {
  using Block = std::conditional_t<kFiveBit, moerun::BlockQ5_K, moerun::BlockQ4_K>;
  static constexpr int kGemvRows = 2;
  static constexpr int kGemmRows = 2;
  static constexpr int kGemmCols = 4;

  template <int NR, int NC>
  static void tile(const moerun::MatmulArgs& p, int64_t r0, int64_t c0) {
    const int64_t nb = p.K / moerun::kSuperBlock;
    const Block* w[NR];
    const moerun::BlockQ8_K* a[NC];
    for (int r = 0; r < NR; ++r) w[r] = reinterpret_cast<const Block*>(p.w + (r0 + r) * p.w_stride);
    for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const moerun::BlockQ8_K*>(p.a + (c0 + c) * p.a_stride);
    float32x4_t acc[NR][NC];
    for (auto& row : acc)
      for (auto& v : row) v = vdupq_n_f32(0.f);
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    for (int64_t i = 0; i < nb; ++i) {
      moerun::tiles::prefetch_next_tile<NR, NC>(p, r0, i * sizeof(Block), sizeof(Block));
      for (int r = 0; r < NR; ++r) {
        const Block& b = w[r][i];
        uint8_t sc[8], mn[8];
        unpack_scales_k4(b.scales, sc, mn);
        const int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn)));
        uint8x16_t qh0 = vdupq_n_u8(0), qh1 = vdupq_n_u8(0);
        if constexpr (kFiveBit) {
          qh0 = vld1q_u8(b.qh);
          qh1 = vld1q_u8(b.qh + 16);
        }
        int32x4_t isum[NC];
        for (int c = 0; c < NC; ++c) isum[c] = vdupq_n_s32(0);
        for (int ch = 0; ch < 4; ++ch) {
          const uint8x16_t q0 = vld1q_u8(b.qs + 32 * ch);
          const uint8x16_t q1 = vld1q_u8(b.qs + 32 * ch + 16);
          for (int hi = 0; hi < 2; ++hi) {
            const int j = 2 * ch + hi;
            uint8x16_t u0 = hi ? vshrq_n_u8(q0, 4) : vandq_u8(q0, low4);
            uint8x16_t u1 = hi ? vshrq_n_u8(q1, 4) : vandq_u8(q1, low4);
            if constexpr (kFiveBit) {
              // Bit 4 of sub-block j's element l is bit j of qh[l].
              const uint8x16_t bit = vdupq_n_u8(static_cast<uint8_t>(1u << j));
              const uint8x16_t b4 = vdupq_n_u8(0x10);
              u0 = vorrq_u8(u0, vandq_u8(vtstq_u8(qh0, bit), b4));
              u1 = vorrq_u8(u1, vandq_u8(vtstq_u8(qh1, bit), b4));
            }
            const int8x16_t l0 = vreinterpretq_s8_u8(u0);
            const int8x16_t l1 = vreinterpretq_s8_u8(u1);
            for (int c = 0; c < NC; ++c) {
              const int8_t* aq = a[c][i].qs + 32 * j;
              const int32x4_t s = dot_s8(dot_s8(vdupq_n_s32(0), l0, vld1q_s8(aq)), l1, vld1q_s8(aq + 16));
              isum[c] = vmlaq_n_s32(isum[c], s, sc[j]);
            }
          }
        }
        const float d = f16(b.d);
        const float dmin = f16(b.dmin);
        for (int c = 0; c < NC; ++c) {
          const moerun::BlockQ8_K& ab = a[c][i];
          // Sub-block sums of the activation: |sum| <= 32 * 128 fits int16.
          const int16x8_t bs = vpaddq_s16(vld1q_s16(ab.bsums), vld1q_s16(ab.bsums + 8));
          const int32x4_t mv = vmlal_high_s16(vmull_s16(vget_low_s16(bs), vget_low_s16(mins)), bs, mins);
          acc[r][c] = vfmaq_n_f32(acc[r][c], vcvtq_f32_s32(isum[c]), d * ab.d);
          acc[r][c] = vfmsq_f32(acc[r][c], vcvtq_f32_s32(mv), vdupq_n_f32(dmin * ab.d));
        }
      }
    }
    for (int c = 0; c < NC; ++c) {
      float* y = moerun::tiles::out_row(p, c0 + c) + r0;
      for (int r = 0; r < NR; ++r) y[r] = vaddvq_f32(acc[r][c]);
    }
  }
};

// Q6_K x Q8_K: for half h, ql[64h + 32q' + l] low nibble = element 32q' + l,
// high = element 64 + 32q' + l; qh[32h + l] bits 2k..2k+1 = element 32k + l.
// Bit for bit the floats of the scalar reference (quant/q6_k.h: ggml's
// generic order): per block 8 int32 class sums (class l: positions p with
// p % 8 == l), converted, times d, added to 8 float lanes (vmulq, then
// vaddq); the lanes summed 0..7 at the end of the row. The levels are made
// signed (q - 32); per 16-element sub-block g, vmull_s8 + vmlal_high_s8 give
// its two products of each class in one int16 (|.| <= 2 * 32 * 128), in
// class order, and vmlal(_high)_n_s16 adds them times sc_g to the class
// sums. sdot would add 4 neighbouring classes, so both rows run this.
struct KQ6 {
  using Block = moerun::BlockQ6_K;
  static constexpr int kGemvRows = 2;
  static constexpr int kGemmRows = 2;
  static constexpr int kGemmCols = 4;

  template <int NR, int NC>
  static void tile(const moerun::MatmulArgs& p, int64_t r0, int64_t c0) {
    const int64_t nb = p.K / moerun::kSuperBlock;
    const Block* w[NR];
    const moerun::BlockQ8_K* a[NC];
    for (int r = 0; r < NR; ++r) w[r] = reinterpret_cast<const Block*>(p.w + (r0 + r) * p.w_stride);
    for (int c = 0; c < NC; ++c) a[c] = reinterpret_cast<const moerun::BlockQ8_K*>(p.a + (c0 + c) * p.a_stride);
    float32x4_t acc[NR][NC][2];  // classes 0-3, 4-7
    for (auto& row : acc)
      for (auto& col : row) col[0] = col[1] = vdupq_n_f32(0.f);
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    const uint8x16_t bits45 = vdupq_n_u8(0x30);
    const int8x16_t off = vdupq_n_s8(32);
    for (int64_t i = 0; i < nb; ++i) {
      moerun::tiles::prefetch_next_tile<NR, NC>(p, r0, i * sizeof(Block), sizeof(Block));
      for (int r = 0; r < NR; ++r) {
        const Block& b = w[r][i];
        int32x4_t lo[NC], hi[NC];
        for (int c = 0; c < NC; ++c) lo[c] = hi[c] = vdupq_n_s32(0);
        for (int h = 0; h < 2; ++h) {
          uint8x16_t ql[4], qh[2];
          for (int v = 0; v < 4; ++v) ql[v] = vld1q_u8(b.ql + 64 * h + 16 * v);
          for (int v = 0; v < 2; ++v) qh[v] = vld1q_u8(b.qh + 32 * h + 16 * v);
          for (int k = 0; k < 4; ++k) {
            // Bits 2k..2k+1 of qh moved to bits 4..5 (negative count: right).
            const int8x16_t sh = vdupq_n_s8(static_cast<int8_t>(4 - 2 * k));
            for (int s = 0; s < 2; ++s) {
              const uint8x16_t lq = ql[2 * (k % 2) + s];
              const uint8x16_t lv = k < 2 ? vandq_u8(lq, low4) : vshrq_n_u8(lq, 4);
              const uint8x16_t hb = vandq_u8(vshlq_u8(qh[s], sh), bits45);
              const int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lv, hb)), off);
              const int g = 8 * h + 2 * k + s;  // sub-block
              const int16_t sc = b.scales[g];
              for (int c = 0; c < NC; ++c) {
                const int8x16_t av = vld1q_s8(a[c][i].qs + 16 * g);
                const int16x8_t t = vmlal_high_s8(vmull_s8(vget_low_s8(q), vget_low_s8(av)), q, av);
                lo[c] = vmlal_n_s16(lo[c], vget_low_s16(t), sc);
                hi[c] = vmlal_high_n_s16(hi[c], t, sc);
              }
            }
          }
        }
        const float dw = f16(b.d);
        for (int c = 0; c < NC; ++c) {
          const float d = dw * a[c][i].d;  // ggml: fp16_to_fp32(x.d) * y.d
          acc[r][c][0] = vaddq_f32(acc[r][c][0], vmulq_n_f32(vcvtq_f32_s32(lo[c]), d));
          acc[r][c][1] = vaddq_f32(acc[r][c][1], vmulq_n_f32(vcvtq_f32_s32(hi[c]), d));
        }
      }
    }
    for (int c = 0; c < NC; ++c) {
      float* y = moerun::tiles::out_row(p, c0 + c) + r0;
      for (int r = 0; r < NR; ++r) {
        float lanes[8];
        vst1q_f32(lanes, acc[r][c][0]);
        vst1q_f32(lanes + 4, acc[r][c][1]);
        float sum = 0;  // lanes 0..7 in order, from 0 (ggml's final loop)
        for (float v : lanes) sum += v;
        y[r] = sum;
      }
    }
  }
};

// Float weights x activations of the same type, 8 elements per step as two
// f32x4 (F16: fcvtl, base ARMv8; BF16: the bits shifted into an f32's top
// half). Products and sums in f32, two accumulators per (row, column); the
// scalar reference sums in double, the difference is far inside the test's
// 1e-5 * sum|w a|.
struct LoadF32 {
  static constexpr int kBytes = 4;
  static void load(const uint8_t* row, int64_t i, float32x4_t* lo, float32x4_t* hi) {
    const float* f = reinterpret_cast<const float*>(row) + i;
    *lo = vld1q_f32(f);
    *hi = vld1q_f32(f + 4);
  }
  static float one(const uint8_t* row, int64_t i) { return reinterpret_cast<const float*>(row)[i]; }
};
struct LoadF16 {
  static constexpr int kBytes = 2;
  static void load(const uint8_t* row, int64_t i, float32x4_t* lo, float32x4_t* hi) {
    const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(reinterpret_cast<const uint16_t*>(row) + i));
    *lo = vcvt_f32_f16(vget_low_f16(h));
    *hi = vcvt_high_f32_f16(h);
  }
  static float one(const uint8_t* row, int64_t i) { return moerun::f16_to_f32(reinterpret_cast<const uint16_t*>(row)[i]); }
};
struct LoadBF16 {
  static constexpr int kBytes = 2;
  static void load(const uint8_t* row, int64_t i, float32x4_t* lo, float32x4_t* hi) {
    const uint16x8_t h = vld1q_u16(reinterpret_cast<const uint16_t*>(row) + i);
    *lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
    *hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
  }
  static float one(const uint8_t* row, int64_t i) { return moerun::bf16_to_f32(reinterpret_cast<const uint16_t*>(row)[i]); }
};

template <class L>
struct FloatTile {
  static constexpr int kGemvRows = 4;
  static constexpr int kGemmRows = 2;
  static constexpr int kGemmCols = 4;

  template <int NR, int NC>
  static void tile(const moerun::MatmulArgs& p, int64_t r0, int64_t c0) {
    const uint8_t* w[NR];
    const uint8_t* a[NC];
    for (int r = 0; r < NR; ++r) w[r] = p.w + (r0 + r) * p.w_stride;
    for (int c = 0; c < NC; ++c) a[c] = p.a + (c0 + c) * p.a_stride;
    float32x4_t acc0[NR][NC], acc1[NR][NC];
    for (int r = 0; r < NR; ++r)
      for (int c = 0; c < NC; ++c) acc0[r][c] = acc1[r][c] = vdupq_n_f32(0.f);
    int64_t i = 0;
    for (; i + 8 <= p.K; i += 8) {
      // One prefetch per 64 bytes of each row.
      if (i % (64 / L::kBytes) == 0) moerun::tiles::prefetch_next_tile<NR, NC>(p, r0, i * L::kBytes, 64);
      float32x4_t alo[NC], ahi[NC];
      for (int c = 0; c < NC; ++c) L::load(a[c], i, &alo[c], &ahi[c]);
      for (int r = 0; r < NR; ++r) {
        float32x4_t wlo, whi;
        L::load(w[r], i, &wlo, &whi);
        for (int c = 0; c < NC; ++c) {
          acc0[r][c] = vfmaq_f32(acc0[r][c], wlo, alo[c]);
          acc1[r][c] = vfmaq_f32(acc1[r][c], whi, ahi[c]);
        }
      }
    }
    for (int c = 0; c < NC; ++c) {
      float* y = moerun::tiles::out_row(p, c0 + c) + r0;
      for (int r = 0; r < NR; ++r) {
        float s = vaddvq_f32(vaddq_f32(acc0[r][c], acc1[r][c]));
        for (int64_t k = i; k < p.K; ++k) s += L::one(w[r], k) * L::one(a[c], k);
        y[r] = s;
      }
    }
  }
};

void install_neon(moerun::KernelTable& t) {
  using moerun::QType;
  namespace tiles = moerun::tiles;
  tiles::install<Legacy<WQ4_0>>(t, QType::Q4_0);
  tiles::install<Legacy<WQ4_1>>(t, QType::Q4_1);
  tiles::install<Legacy<WQ5_0>>(t, QType::Q5_0);
  tiles::install<Legacy<WQ5_1>>(t, QType::Q5_1);
  tiles::install<Legacy<WQ8_0>>(t, QType::Q8_0);
  tiles::install<KQ4<false>>(t, QType::Q4_K);
  tiles::install<KQ4<true>>(t, QType::Q5_K);
  tiles::install<KQ6>(t, QType::Q6_K);
  tiles::install<FloatTile<LoadF32>>(t, QType::F32);
  tiles::install<FloatTile<LoadF16>>(t, QType::F16);
  tiles::install<FloatTile<LoadBF16>>(t, QType::BF16);
}

}  // namespace
