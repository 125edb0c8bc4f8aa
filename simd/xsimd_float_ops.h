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

  // s = q k^T in register tiles of 4 x 4 dot products, each over D in
  // vectors of W; the 16 sums are reduced once per tile.
  template <int NI, int NJ>
  static void nt_tile(const float* q, int64_t ldq, const float* k, int64_t ldk, int64_t D, float* s, int64_t lds) {
    V acc[NI][NJ];
    for (auto& row : acc)
      for (auto& v : row) v = V(0.f);
    int64_t d = 0;
    for (; d + W <= D; d += W) {
      V kv[NJ];
      for (int j = 0; j < NJ; ++j) kv[j] = V::load_unaligned(k + j * ldk + d);
      for (int i = 0; i < NI; ++i) {
        const V qv = V::load_unaligned(q + i * ldq + d);
        for (int j = 0; j < NJ; ++j) acc[i][j] = xsimd::fma(qv, kv[j], acc[i][j]);
      }
    }
    for (int i = 0; i < NI; ++i) {
      for (int j = 0; j < NJ; ++j) {
        float t = xsimd::hadd(acc[i][j]);
        for (int64_t e = d; e < D; ++e) t += q[i * ldq + e] * k[j * ldk + e];
        s[i * lds + j] = t;
      }
    }
  }

  static void gemm_nt_f32(const float* q, int64_t ldq, int64_t M, const float* k, int64_t ldk, int64_t N, int64_t D,
                          float* s, int64_t lds) {
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) {
      int64_t j = 0;
      for (; j + 4 <= N; j += 4) nt_tile<4, 4>(q + i * ldq, ldq, k + j * ldk, ldk, D, s + i * lds + j, lds);
      for (; j < N; ++j) nt_tile<4, 1>(q + i * ldq, ldq, k + j * ldk, ldk, D, s + i * lds + j, lds);
    }
    for (; i < M; ++i) {
      int64_t j = 0;
      for (; j + 4 <= N; j += 4) nt_tile<1, 4>(q + i * ldq, ldq, k + j * ldk, ldk, D, s + i * lds + j, lds);
      for (; j < N; ++j) nt_tile<1, 1>(q + i * ldq, ldq, k + j * ldk, ldk, D, s + i * lds + j, lds);
    }
  }

  // o += p v over a register tile of NI rows x NV vectors of o: per key j,
  // NI broadcasts of p and NV loads of v feed NI * NV fmas.
  template <int NI, int NV>
  static void nn_tile(const float* p, int64_t ldp, const float* v, int64_t ldv, int64_t N, float* o, int64_t ldo) {
    V acc[NI][NV];
    for (int i = 0; i < NI; ++i)
      for (int c = 0; c < NV; ++c) acc[i][c] = V::load_unaligned(o + i * ldo + c * W);
    for (int64_t j = 0; j < N; ++j) {
      V vv[NV];
      for (int c = 0; c < NV; ++c) vv[c] = V::load_unaligned(v + j * ldv + c * W);
      for (int i = 0; i < NI; ++i) {
        const V pv(p[i * ldp + j]);
        for (int c = 0; c < NV; ++c) acc[i][c] = xsimd::fma(pv, vv[c], acc[i][c]);
      }
    }
    for (int i = 0; i < NI; ++i)
      for (int c = 0; c < NV; ++c) acc[i][c].store_unaligned(o + i * ldo + c * W);
  }

  template <int NI>
  static void nn_rows(const float* p, int64_t ldp, const float* v, int64_t ldv, int64_t N, int64_t D, float* o,
                      int64_t ldo) {
    int64_t d = 0;
    for (; d + 4 * W <= D; d += 4 * W) nn_tile<NI, 4>(p, ldp, v + d, ldv, N, o + d, ldo);
    for (; d + W <= D; d += W) nn_tile<NI, 1>(p, ldp, v + d, ldv, N, o + d, ldo);
    for (; d < D; ++d) {
      for (int i = 0; i < NI; ++i) {
        float t = o[i * ldo + d];
        for (int64_t j = 0; j < N; ++j) t += p[i * ldp + j] * v[j * ldv + d];
        o[i * ldo + d] = t;
      }
    }
  }

  static void gemm_nn_acc_f32(const float* p, int64_t ldp, int64_t M, const float* v, int64_t ldv, int64_t N,
                              int64_t D, float* o, int64_t ldo) {
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) nn_rows<4>(p + i * ldp, ldp, v, ldv, N, D, o + i * ldo, ldo);
    for (; i < M; ++i) nn_rows<1>(p + i * ldp, ldp, v, ldv, N, D, o + i * ldo, ldo);
  }

  static void softmax_block_f32(float* s, int64_t lds, int64_t M, int64_t N, float* m, float* l, float* rescale) {
    for (int64_t i = 0; i < M; ++i) {
      float* r = s + i * lds;
      float mx = m[i];
      int64_t j = 0;
      if (N >= W) {
        V vm = V::load_unaligned(r);
        for (j = W; j + W <= N; j += W) vm = xsimd::max(vm, V::load_unaligned(r + j));
        float lanes[W];
        vm.store_unaligned(lanes);
        for (float v : lanes) mx = std::fmax(mx, v);
      }
      for (; j < N; ++j) mx = std::fmax(mx, r[j]);
      if (mx == -INFINITY) {
        rescale[i] = 1.0f;
        for (j = 0; j < N; ++j) r[j] = 0.0f;
        continue;
      }
      const V vmx(mx);
      V acc(0.f);
      for (j = 0; j + W <= N; j += W) {
        const V e = xsimd::exp(V::load_unaligned(r + j) - vmx);
        e.store_unaligned(r + j);
        acc += e;
      }
      float sum = xsimd::hadd(acc);
      for (; j < N; ++j) {
        r[j] = std::exp(r[j] - mx);
        sum += r[j];
      }
      rescale[i] = std::exp(m[i] - mx);
      l[i] = l[i] * rescale[i] + sum;
      m[i] = mx;
    }
  }

  // RoPE stays inherited: its cost is the sin/cos per pair, not the rotation.
  static void fill(FloatKernels& f) {
    f.rms_norm = rms_norm;
    // softmax_inplace and silu_mul: the parent's (scalar) ones, which follow
    // ggml's exponential bit for bit; AVX-512 has a vector twin.
    f.add_inplace = add_inplace;
    f.axpy = axpy;
    f.dot_f32 = dot_f32;
    f.gemm_nt_f32 = gemm_nt_f32;
    f.gemm_nn_acc_f32 = gemm_nn_acc_f32;
    f.softmax_block_f32 = softmax_block_f32;
  }
};

}  // namespace moerun::xs
