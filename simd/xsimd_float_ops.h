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

  // Attention's online tiles (float_ops.h attn_*_f32), lanes across query
  // rows: per d, one load of W rows' queries and NK broadcast keys feed NK
  // multiply-adds, and each key's scores are stored as they are.
  // The first row group prefetches the next n_pf keys' line at every 16th
  // element (the others find them in cache).
  template <int NK>
  static void score_keys(const float* qt, int64_t ldt, const float* const* k, int64_t D, float* st,
                         const float* const* next, int n_pf) {
    V acc[NK];
    for (V& a : acc) a = V(0.f);
    for (int64_t d = 0; d < D; ++d) {
      if ((d & 15) == 0) {
        for (int j = 0; j < n_pf; ++j) __builtin_prefetch(next[j] + d);
      }
      const V qv = V::load_unaligned(qt + d * ldt);
      for (int j = 0; j < NK; ++j) acc[j] = xsimd::fma(qv, V(k[j][d]), acc[j]);
    }
    for (int j = 0; j < NK; ++j) acc[j].store_unaligned(st + j * ldt);
  }

  static void attn_scores_f32(const float* qt, int64_t ldt, int64_t M, const float* const* k, int64_t N, int64_t D,
                              float* st, const float* const* /*v*/, int64_t /*dv*/) {
    for (int64_t i = 0; i < M; i += W) {
      int64_t j = 0;
      for (; j + 8 <= N; j += 8) {
        const int n_pf = i == 0 ? static_cast<int>(std::clamp<int64_t>(N - j - 8, 0, 8)) : 0;
        score_keys<8>(qt + i, ldt, k + j, D, st + j * ldt + i, k + j + 8, n_pf);
      }
      for (; j < N; ++j) score_keys<1>(qt + i, ldt, k + j, D, st + j * ldt + i, k, 0);
    }
  }

  // o += p v over a register tile of NI rows x NV vectors of o: per key j,
  // NI broadcasts of p and NV loads of v feed NI * NV fmas.
  template <int NI, int NV>
  static void value_tile(const float* pt, int64_t ldt, const float* const* v, int64_t d, int64_t N, float* o,
                         int64_t ldo) {
    V acc[NI][NV];
    for (int i = 0; i < NI; ++i)
      for (int c = 0; c < NV; ++c) acc[i][c] = V::load_unaligned(o + i * ldo + c * W);
    for (int64_t j = 0; j < N; ++j) {
      V vv[NV];
      for (int c = 0; c < NV; ++c) vv[c] = V::load_unaligned(v[j] + d + c * W);
      for (int i = 0; i < NI; ++i) {
        const V pv(pt[j * ldt + i]);
        for (int c = 0; c < NV; ++c) acc[i][c] = xsimd::fma(pv, vv[c], acc[i][c]);
      }
    }
    for (int i = 0; i < NI; ++i)
      for (int c = 0; c < NV; ++c) acc[i][c].store_unaligned(o + i * ldo + c * W);
  }

  template <int NI>
  static void value_rows(const float* pt, int64_t ldt, const float* const* v, int64_t N, int64_t D, float* o,
                         int64_t ldo) {
    int64_t d = 0;
    for (; d + 4 * W <= D; d += 4 * W) value_tile<NI, 4>(pt, ldt, v, d, N, o + d, ldo);
    for (; d + W <= D; d += W) value_tile<NI, 1>(pt, ldt, v, d, N, o + d, ldo);
    for (; d < D; ++d) {
      for (int i = 0; i < NI; ++i) {
        float t = o[i * ldo + d];
        for (int64_t j = 0; j < N; ++j) t += pt[j * ldt + i] * v[j][d];
        o[i * ldo + d] = t;
      }
    }
  }

  static void attn_values_f32(const float* pt, int64_t ldt, int64_t M, const float* const* v, int64_t N, int64_t D,
                              float* o, int64_t ldo) {
    int64_t i = 0;
    for (; i + 4 <= M; i += 4) value_rows<4>(pt + i, ldt, v, N, D, o + i * ldo, ldo);
    for (; i < M; ++i) value_rows<1>(pt + i, ldt, v, N, D, o + i * ldo, ldo);
  }

  // The online softmax step W rows at a time, down each row's keys.
  static void attn_softmax_f32(float* st, int64_t ldt, int64_t M, int64_t N, float* m, float* l, float* rescale) {
    for (int64_t i = 0; i < M; i += W) {
      const V m_old = V::load_unaligned(m + i);
      V mx = m_old;
      for (int64_t j = 0; j < N; ++j) mx = xsimd::max(mx, V::load_unaligned(st + j * ldt + i));
      // A row with nothing unmasked yet (mx -inf) subtracts 0 instead, so its
      // probabilities come out 0 and its rescale 1.
      const auto none = mx == V(-INFINITY);
      const V sub = xsimd::select(none, V(0.f), mx);
      V sum(0.f);
      for (int64_t j = 0; j < N; ++j) {
        const V e = xsimd::exp(V::load_unaligned(st + j * ldt + i) - sub);
        e.store_unaligned(st + j * ldt + i);
        sum += e;
      }
      const V r = xsimd::select(none, V(1.f), xsimd::exp(m_old - mx));
      r.store_unaligned(rescale + i);
      xsimd::fma(V::load_unaligned(l + i), r, sum).store_unaligned(l + i);
      mx.store_unaligned(m + i);
    }
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

  // RoPE stays inherited: its cost is the sin/cos per pair, not the rotation.
  static void fill(FloatKernels& f) {
    f.rms_norm = rms_norm;
    // softmax_inplace and silu_mul: the parent's (scalar) ones, which follow
    // ggml's exponential bit for bit; AVX-512 has a vector twin.
    f.add_inplace = add_inplace;
    f.axpy = axpy;
    f.dot_f32 = dot_f32;
    f.attn_scores_f32 = attn_scores_f32;
    f.attn_values_f32 = attn_values_f32;
    f.gemm_g16_bf16 = gemm_g16_bf16;
    f.attn_softmax_f32 = attn_softmax_f32;
  }
};

}  // namespace moerun::xs
