// Helpers shared by the block-format headers (quant/<format>.h): the rounding
// rule and the scale searches of ggml's reference quantizers
// (ggml/src/ggml-quants.c: nearest_int, make_qx_quants, make_qkx2_quants),
// re-derived so that moerun writes the same bytes as llama.cpp's
// quantize_row_*_ref. Float operations keep ggml's order on purpose: a
// reordered sum flips a rounding now and then and the bytes stop matching.
// Owns no format; scalar only (no intrinsics in quant/).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "quant/format.h"

namespace moerun {

// Elements per K-quant super-block (ggml QK_K).
inline constexpr int kSuperBlock = 256;

// Round to nearest, ties to even, as ggml's nearest_int (which adds 1.5*2^23
// and reads the mantissa). Valid for |x| < 2^22, always true here.
inline int nearest_int(float x) { return static_cast<int>(std::lrint(x)); }

// The levels and f32 scale d = amax/127 of one 32-element 8-bit block (Q8_0,
// Q8_1): ggml's _ref rounding, x / d rounded half away from zero. Weights and
// activations alike (q8_0.h says why activations too).
inline float quantize_block_q8(const float* x, int8_t* q) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127;
  const float id = d ? 1.0f / d : 0.0f;
  for (int j = 0; j < 32; ++j) q[j] = static_cast<int8_t>(std::round(x[j] * id));
  return d;
}

// Weighted fit of x[i] ~ scale * L[i] - the_min with L in [0, nmax] and
// the_min >= 0 (ggml make_qkx2_quants, used by Q4_K/Q5_K). Starts from the
// min/max grid, then tries nstep+1 stretched grids (nmax + rmin + rdelta*is)
// and keeps the least weighted squared error (use_mad: absolute error).
// Writes L (n values) and *the_min; returns scale. `aux` holds n scratch bytes.
inline float make_qkx2_quants(int n, int nmax, const float* x,
                              const float* weights, uint8_t* L,
                              float* the_min, uint8_t* aux, float rmin,
                              float rdelta, int nstep, bool use_mad) {
  float lo = x[0];
  float hi = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (lo > 0) lo = 0;  // the offset only ever subtracts
  if (hi == lo) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -lo;
    return 0.f;
  }
  float iscale = nmax / (hi - lo);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = nearest_int(iscale * (x[i] - lo));
    L[i] = static_cast<uint8_t>(l < 0 ? 0 : (l > nmax ? nmax : l));
    float diff = scale * L[i] + lo - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -lo;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (hi - lo);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - lo));
      l = l < 0 ? 0 : (l > nmax ? nmax : l);
      aux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    // Least squares for (scale, min) given the levels; 2x2 normal equations.
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * aux[i] + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        std::memcpy(L, aux, static_cast<size_t>(n));
        best_error = cur_error;
        scale = this_scale;
        lo = this_min;
      }
    }
  }
  *the_min = -lo;
  return scale;
}

// Symmetric fit of x[i] ~ scale * (L[i] - nmax) with L in [0, 2*nmax - 1],
// weighted by x^2 (ggml make_qx_quants with rmse_type 1 and no importance
// weights, used by Q6_K). Tries iscale = -(nmax + 0.1*is)/max for is in
// -9..9 and keeps the best weighted least-squares scale. Returns scale.
inline float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < 1e-15f) {  // ggml GROUP_MAX_EPS: treat as all zero
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  auto level = [nmax](float v) {
    const int l = nearest_int(v);
    return l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l);
  };
  float iscale = -nmax / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = level(iscale * x[i]);
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = level(iscale * x[i]);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    // Larger sumlx^2/suml2 = smaller weighted squared error.
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        L[i] = static_cast<int8_t>(level(iscale * x[i]) + nmax);
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q4_K/Q5_K pack 8 (scale, min) pairs of 6 bits into 12 bytes
// (ggml-common.h block_q4_K, get_scale_min_k4): bytes 0-3 hold scales 0-3 in
// their low 6 bits, bytes 4-7 mins 0-3; bytes 8-11 hold the low nibbles of
// scale j+4 (low half) and min j+4 (high half); the top 2 bits of scales 4-7
// sit in bits 6-7 of bytes 0-3, those of mins 4-7 in bits 6-7 of bytes 4-7.
inline void unpack_scale_min_k4(int j, const uint8_t* q, uint8_t* scale,
                                uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Inverse of unpack_scale_min_k4 for all 8 pairs (each value < 64).
inline void pack_scale_min_k4(const uint8_t* scales, const uint8_t* mins,
                              uint8_t* q) {
  std::memset(q, 0, 12);
  for (int j = 0; j < 8; ++j) {
    const uint8_t ls = scales[j];
    const uint8_t lm = mins[j];
    if (j < 4) {
      q[j] = ls;
      q[j + 4] = lm;
    } else {
      q[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      q[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      q[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
}

// One super-block of Q4_K or Q5_K (ggml's quantize_row_q{4,5}_K_ref share
// this): per 32-element sub-block a weighted (scale, min) fit with
// make_qkx2_quants (weights rms(x) + |x|; ggml's search grid rmin/rdelta/nstep
// per format), the 8 scales and mins quantized to 6 bits against the largest
// of each and packed into `scales`, then the levels L[256] in [0, nmax]
// recomputed with the stored values. Returns the f16 d and dmin the levels
// were computed against; the caller packs the levels.
struct KScaleMin {
  uint16_t d;
  uint16_t dmin;
};
inline KScaleMin quantize_k_scale_min(const float* src, int nmax, float rmin, float rdelta, int nstep,
                                      uint8_t* L, uint8_t* scales_out) {
  uint8_t aux[32];
  float weights[32];
  float mins[8];
  float scales[8];
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* x = src + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[l] * x[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[l]);
    scales[j] = make_qkx2_quants(32, nmax, x, weights, L + 32 * j, &mins[j], aux, rmin, rdelta, nstep, false);
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
  pack_scale_min_k4(ls, lm, scales_out);
  const KScaleMin out{f32_to_f16(max_scale / 63.f), f32_to_f16(max_min / 63.f)};
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, scales_out, &sc, &m);
    const float d = f16_to_f32(out.d) * sc;
    if (!d) continue;  // keep the fit's levels, as ggml
    const float dm = f16_to_f32(out.dmin) * m;
    for (int l = 0; l < 32; ++l) {
      const int q = nearest_int((src[32 * j + l] + dm) / d);
      L[32 * j + l] = static_cast<uint8_t>(q < 0 ? 0 : (q > nmax ? nmax : q));
    }
  }
  return out;
}

}  // namespace moerun
