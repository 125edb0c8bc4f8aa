// The float ops (float_ops.h) written once against xsimd, instantiated per
// ISA by the simd/<isa>/ files with their own Arch (xsimd::avx512bw,
// xsimd::fma3<xsimd::avx2>, xsimd::neon64). Include only from simd/<isa>/:
// naming batch<float, Arch> needs that ISA's compile flags.
// Sums use four accumulators of Arch's width; the scalar reference sums in
// double, and tests/simd bound the difference.
#pragma once

#include <algorithm>
#include <bit>
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
  static void nt_tile(const float* q, int64_t ldq, const float* const* k, int64_t D, float* s, int64_t lds) {
    V acc[NI][NJ];
    for (auto& row : acc)
      for (auto& v : row) v = V(0.f);
    int64_t d = 0;
    for (; d + W <= D; d += W) {
      V kv[NJ];
      for (int j = 0; j < NJ; ++j) kv[j] = V::load_unaligned(k[j] + d);
      for (int i = 0; i < NI; ++i) {
        const V qv = V::load_unaligned(q + i * ldq + d);
        for (int j = 0; j < NJ; ++j) acc[i][j] = xsimd::fma(qv, kv[j], acc[i][j]);
      }
    }
    for (int i = 0; i < NI; ++i) {
      for (int j = 0; j < NJ; ++j) {
        float t = xsimd::hadd(acc[i][j]);
        for (int64_t e = d; e < D; ++e) t += q[i * ldq + e] * k[j][e];
        s[i * lds + j] = t;
      }
    }
  }

  static void gemm_nt_f32(const float* q, int64_t ldq, int64_t M, const float* const* k, int64_t N, int64_t D,
                          float* s, int64_t lds) {
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) {
      int64_t j = 0;
      for (; j + 4 <= N; j += 4) nt_tile<4, 4>(q + i * ldq, ldq, k + j, D, s + i * lds + j, lds);
      for (; j < N; ++j) nt_tile<4, 1>(q + i * ldq, ldq, k + j, D, s + i * lds + j, lds);
    }
    for (; i < M; ++i) {
      int64_t j = 0;
      for (; j + 4 <= N; j += 4) nt_tile<1, 4>(q + i * ldq, ldq, k + j, D, s + i * lds + j, lds);
      for (; j < N; ++j) nt_tile<1, 1>(q + i * ldq, ldq, k + j, D, s + i * lds + j, lds);
    }
  }

  // o += p v over a register tile of NI rows x NV vectors of o: per key j,
  // NI broadcasts of p and NV loads of v feed NI * NV fmas.
  template <int NI, int NV>
  static void nn_tile(const float* p, int64_t ldp, const float* const* v, int64_t d, int64_t N, float* o, int64_t ldo) {
    V acc[NI][NV];
    for (int i = 0; i < NI; ++i)
      for (int c = 0; c < NV; ++c) acc[i][c] = V::load_unaligned(o + i * ldo + c * W);
    for (int64_t j = 0; j < N; ++j) {
      V vv[NV];
      for (int c = 0; c < NV; ++c) vv[c] = V::load_unaligned(v[j] + d + c * W);
      for (int i = 0; i < NI; ++i) {
        const V pv(p[i * ldp + j]);
        for (int c = 0; c < NV; ++c) acc[i][c] = xsimd::fma(pv, vv[c], acc[i][c]);
      }
    }
    for (int i = 0; i < NI; ++i)
      for (int c = 0; c < NV; ++c) acc[i][c].store_unaligned(o + i * ldo + c * W);
  }

  template <int NI>
  static void nn_rows(const float* p, int64_t ldp, const float* const* v, int64_t N, int64_t D, float* o,
                      int64_t ldo) {
    int64_t d = 0;
    for (; d + 4 * W <= D; d += 4 * W) nn_tile<NI, 4>(p, ldp, v, d, N, o + d, ldo);
    for (; d + W <= D; d += W) nn_tile<NI, 1>(p, ldp, v, d, N, o + d, ldo);
    for (; d < D; ++d) {
      for (int i = 0; i < NI; ++i) {
        float t = o[i * ldo + d];
        for (int64_t j = 0; j < N; ++j) t += p[i * ldp + j] * v[j][d];
        o[i * ldo + d] = t;
      }
    }
  }

  static void gemm_nn_acc_f32(const float* p, int64_t ldp, int64_t M, const float* const* v, int64_t N, int64_t D,
                              float* o, int64_t ldo) {
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) nn_rows<4>(p + i * ldp, ldp, v, N, D, o + i * ldo, ldo);
    for (; i < M; ++i) nn_rows<1>(p + i * ldp, ldp, v, N, D, o + i * ldo, ldo);
  }

  // a * b + c rounded once. xsimd 8's fma is fused on AVX2 and NEON but
  // a multiply and an add on AVX-512 (Debian's xsimd has no AVX-512 fma);
  // the kernels above keep that, gemm_g16_bf16 needs the scalar reference's
  // std::fma on every ISA.
  static V fused(V a, V b, V c) {
#if defined(__AVX512F__)
    if constexpr (W == 16) return _mm512_fmadd_ps(a, b, c);
#endif
    return xsimd::fma(a, b, c);
  }

  // W bfloat16 values widened to floats (the top halves of their bits).
  static V load_bf16(const uint16_t* p) {
#if defined(__AVX512F__)
    if constexpr (W == 16) {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
#endif
#if defined(__AVX2__)
    if constexpr (W == 8) {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
#endif
#if defined(__ARM_NEON)
    if constexpr (W == 4) return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
#endif
    alignas(64) float f[W];
    for (int64_t i = 0; i < W; ++i) f[i] = std::bit_cast<float>(static_cast<uint32_t>(p[i]) << 16);
    return V::load_aligned(f);
  }

  // s = a b over NA rows of a and NG groups of 16 columns of b: per d, the
  // groups' vectors are loaded once and each row's a[i][d] is broadcast into
  // them. Accumulators run along d, one per (row, vector of columns), so the
  // sums are the scalar reference's fmas in its order.
  template <int NA, int NG>
  static void g16_tile(const float* a, int64_t lda, const uint16_t* b, int64_t ldg, int64_t D, float* s, int64_t lds,
                       bool accumulate) {
    constexpr int GV = 16 / W;  // vectors per group
    V acc[NA][NG * GV];
    for (int i = 0; i < NA; ++i)
      for (int c = 0; c < NG * GV; ++c)
        acc[i][c] = accumulate ? V::load_unaligned(s + i * lds + c * W) : V(0.f);
    for (int64_t d = 0; d < D; ++d) {
      V bv[NG * GV];
      for (int g = 0; g < NG; ++g)
        for (int c = 0; c < GV; ++c) bv[g * GV + c] = load_bf16(b + g * ldg + d * 16 + c * W);
      for (int i = 0; i < NA; ++i) {
        const V av(a[i * lda + d]);
        for (int c = 0; c < NG * GV; ++c) acc[i][c] = fused(av, bv[c], acc[i][c]);
      }
    }
    for (int i = 0; i < NA; ++i)
      for (int c = 0; c < NG * GV; ++c) acc[i][c].store_unaligned(s + i * lds + c * W);
  }

  template <int NA>
  static void g16_rows(const float* a, int64_t lda, const uint16_t* b, int64_t ldg, int64_t N, int64_t D, float* s,
                       int64_t lds, bool accumulate) {
    // Three groups per tile where the registers hold 8 x 3 accumulators
    // (AVX-512); one elsewhere.
    constexpr int NG = W == 16 ? 3 : 1;
    int64_t j = 0;
    for (; j + 16 * NG <= N; j += 16 * NG) {
      g16_tile<NA, NG>(a, lda, b + j / 16 * ldg, ldg, D, s + j, lds, accumulate);
    }
    for (; j < N; j += 16) g16_tile<NA, 1>(a, lda, b + j / 16 * ldg, ldg, D, s + j, lds, accumulate);
  }

  static void gemm_g16_bf16(const float* a, int64_t lda, int64_t M, const uint16_t* b, int64_t ldg, int64_t N, int64_t D,
                           float* s, int64_t lds, bool accumulate) {
    // Rows per tile: 8 on AVX-512 (24 accumulators), 4 on AVX2 (8 of its
    // 16 registers), 6 on NEON (24 of 32 registers of 4 lanes).
    constexpr int NA = W == 16 ? 8 : W == 8 ? 4 : 6;
    int64_t i = 0;
    for (; i + NA <= M; i += NA) g16_rows<NA>(a + i * lda, lda, b, ldg, N, D, s + i * lds, lds, accumulate);
    for (; i < M; ++i) g16_rows<1>(a + i * lda, lda, b, ldg, N, D, s + i * lds, lds, accumulate);
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
        for (float v : lanes) mx = v > mx ? v : mx;  // no NaN here; std::fmax is a libm call
      }
      for (; j < N; ++j) mx = r[j] > mx ? r[j] : mx;
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
    f.gemm_g16_bf16 = gemm_g16_bf16;
    f.softmax_block_f32 = softmax_block_f32;
  }
};

}  // namespace moerun::xs
