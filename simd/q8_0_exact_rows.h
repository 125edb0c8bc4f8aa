// Q8_0 weights x Q8_0 activations in ggml's portable order (quant/q8_0.h
// vec_dot_q8_0_q8_0: per row, blocks in turn, sum += sumi * (dw * da)), and
// float weights (F32, F16, BF16: float products summed in double, quant/f32.h),
// for the ISAs without hand-written exact kernels (AVX2, AVX-VNNI, NEON;
// AVX-512 has simd/avx512/q8_0_exact.cpp and its float tiles). Included by each ISA's file, so the
// block's integer dot is vectorized with that ISA's flags; the float steps
// stay one multiply and one add per block, as the reference. Four rows at a
// time share each activation block. ISA-neutral: anonymous namespace, one
// instantiation per including file.
#pragma once

#include <algorithm>
#include <cstdint>

#include "quant/bf16.h"
#include "quant/f16.h"
#include "quant/f32.h"
#include "quant/q8_0.h"
#include "simd/dispatch.h"
#include "simd/tile_driver.h"

namespace moerun {
namespace {
namespace q8_0_exact {

inline int32_t block_dot(const int8_t* x, const int8_t* y) {
  int32_t s = 0;
  for (int j = 0; j < BlockQ8_0::kSize; ++j) s += x[j] * y[j];
  return s;
}

template <int NR>
inline void rows(const MatmulArgs& p, int64_t r0, const BlockQ8_0* a, float* y) {
  const int64_t nb = p.K / BlockQ8_0::kSize;
  const BlockQ8_0* w[NR];
  float acc[NR] = {};
  for (int r = 0; r < NR; ++r) w[r] = reinterpret_cast<const BlockQ8_0*>(p.w + (r0 + r) * p.w_stride);
  for (int64_t b = 0; b < nb; ++b) {
    const float da = f16_to_f32(a[b].d);
    for (int r = 0; r < NR; ++r) {
      const int32_t s = block_dot(w[r][b].qs, a[b].qs);
      acc[r] += static_cast<float>(s) * (f16_to_f32(w[r][b].d) * da);
    }
  }
  for (int r = 0; r < NR; ++r) y[r0 + r] = acc[r];
}

inline void gemm(const MatmulArgs& p) {
  for (int64_t c = 0; c < p.B; ++c) {
    const auto* a = reinterpret_cast<const BlockQ8_0*>(p.a + c * p.a_stride);
    float* y = tiles::out_row(p, c);
    int64_t r = 0;
    for (; r + 4 <= p.N; r += 4) rows<4>(p, r, a, y);
    for (; r < p.N; ++r) rows<1>(p, r, a, y);
  }
}

inline float dot(int64_t n, const void* w, const void* a) { return vec_dot_q8_0_q8_0(n, w, a); }

// Float weights: the reference dot per output (these formats are rare on
// CPUs: router matrices and small test models).
template <VecDotFn kDot>
void float_gemm(const MatmulArgs& p) {
  for (int64_t c = 0; c < p.B; ++c) {
    float* y = tiles::out_row(p, c);
    for (int64_t r = 0; r < p.N; ++r) y[r] = kDot(p.K, p.w + r * p.w_stride, p.a + c * p.a_stride);
  }
}

template <VecDotFn kDot>
void install_float(KernelTable& t, QType type) {
  FormatKernels& f = t.fmt[format_index(type)];
  f.dot = kDot;
  f.gemv = float_gemm<kDot>;
  f.gemm = float_gemm<kDot>;
}

}  // namespace q8_0_exact

// Replaces every Q8_0 and float-weight (F32, F16, BF16) kernel of the table with
// the exact ones.
inline void install_exact_kernels(KernelTable& t) {
  FormatKernels& f = t.fmt[format_index(QType::Q8_0)];
  f.dot = q8_0_exact::dot;
  f.gemv = q8_0_exact::gemm;
  f.gemm = q8_0_exact::gemm;
  f.packed_act_bytes = nullptr;
  f.pack_act = nullptr;
  f.gemm_packed = nullptr;
  q8_0_exact::install_float<vec_dot_f32_f32>(t, QType::F32);
  q8_0_exact::install_float<vec_dot_f16_f16>(t, QType::F16);
  q8_0_exact::install_float<vec_dot_bf16_bf16>(t, QType::BF16);
}

}  // namespace
}  // namespace moerun
