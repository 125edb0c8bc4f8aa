// The float ops (float_ops.h) written once against xsimd, instantiated per
// ISA by the simd/<isa>/ files with their own Arch (xsimd::avx512bw,
// xsimd::fma3<xsimd::avx2>, xsimd::neon64). Include only from simd/<isa>/:
// naming batch<float, Arch> needs that ISA's compile flags.
// Sums use four accumulators of Arch's width; the scalar reference sums in
// double, and tests/simd bound the difference.
#pragma once

#include <cmath>
#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "simd/dispatch.h"
#include "simd/rms_scale.h"

namespace moerun::xs {

template <class Arch>
struct FloatOps {
  using V = xsimd::batch<float, Arch>;
  static constexpr int64_t W = static_cast<int64_t>(V::size);

  static void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    const float scale = rms_scale(x, n, eps);
    const V vs(scale);
    int64_t i = 0;
    if (w != nullptr) {
      for (; i + W <= n; i += W) (V::load_unaligned(x + i) * vs * V::load_unaligned(w + i)).store_unaligned(y + i);
      for (; i < n; ++i) y[i] = x[i] * scale * w[i];
    } else {
      for (; i + W <= n; i += W) (V::load_unaligned(x + i) * vs).store_unaligned(y + i);
      for (; i < n; ++i) y[i] = x[i] * scale;
    }
  }

  static void softmax_inplace(float* x, int64_t n) {
    int64_t i = 0;
    float mx = -INFINITY;
    if (n >= W) {
      V m = V::load_unaligned(x);
      for (i = W; i + W <= n; i += W) m = xsimd::max(m, V::load_unaligned(x + i));
      float lanes[W];  // xsimd 8.1 has no horizontal max
      m.store_unaligned(lanes);
      for (float v : lanes) mx = std::fmax(mx, v);
    }
    for (; i < n; ++i) mx = std::fmax(mx, x[i]);
    const V vm(mx);
    V acc(0.f);
    for (i = 0; i + W <= n; i += W) {
      const V e = xsimd::exp(V::load_unaligned(x + i) - vm);
      e.store_unaligned(x + i);
      acc += e;
    }
    float sum = xsimd::hadd(acc);
    for (; i < n; ++i) {
      x[i] = std::exp(x[i] - mx);
      sum += x[i];
    }
    const float inv = 1.0f / sum;
    const V vi(inv);
    for (i = 0; i + W <= n; i += W) (V::load_unaligned(x + i) * vi).store_unaligned(x + i);
    for (; i < n; ++i) x[i] *= inv;
  }

  static void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
    const V one(1.f);
    int64_t i = 0;
    for (; i + W <= n; i += W) {
      const V g = V::load_unaligned(gate + i);
      (g / (one + xsimd::exp(-g)) * V::load_unaligned(up + i)).store_unaligned(out + i);
    }
    for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  }

  static void add_inplace(float* y, const float* x, int64_t n) {
    int64_t i = 0;
    for (; i + W <= n; i += W) (V::load_unaligned(y + i) + V::load_unaligned(x + i)).store_unaligned(y + i);
    for (; i < n; ++i) y[i] += x[i];
  }

  static void axpy(float* y, float a, const float* x, int64_t n) {
    const V va(a);
    int64_t i = 0;
    for (; i + W <= n; i += W) xsimd::fma(va, V::load_unaligned(x + i), V::load_unaligned(y + i)).store_unaligned(y + i);
    for (; i < n; ++i) y[i] += a * x[i];
  }

  static float dot_f32(const float* a, const float* b, int64_t n) {
    V a0(0.f), a1(0.f), a2(0.f), a3(0.f);
    int64_t i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
      a0 = xsimd::fma(V::load_unaligned(a + i), V::load_unaligned(b + i), a0);
      a1 = xsimd::fma(V::load_unaligned(a + i + W), V::load_unaligned(b + i + W), a1);
      a2 = xsimd::fma(V::load_unaligned(a + i + 2 * W), V::load_unaligned(b + i + 2 * W), a2);
      a3 = xsimd::fma(V::load_unaligned(a + i + 3 * W), V::load_unaligned(b + i + 3 * W), a3);
    }
    for (; i + W <= n; i += W) a0 = xsimd::fma(V::load_unaligned(a + i), V::load_unaligned(b + i), a0);
    float s = xsimd::hadd((a0 + a1) + (a2 + a3));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
  }

  // RoPE stays inherited: its cost is the sin/cos per pair, not the rotation.
  static void fill(FloatKernels& f) {
    f.rms_norm = rms_norm;
    f.softmax_inplace = softmax_inplace;
    f.silu_mul = silu_mul;
    f.add_inplace = add_inplace;
    f.axpy = axpy;
    f.dot_f32 = dot_f32;
  }
};

}  // namespace moerun::xs
