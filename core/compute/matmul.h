// matmul: y = x · Wᵀ for a weight W in any block format, over B activation
// rows. Activations are quantized once per row to W's vec_dot_type (as
// llama.cpp does, so the numerics match) and the rows of W are split over
// the OpenMP threads in contiguous chunks, each thread streaming its own part
// of the weight. The kernels come from the active ISA's table
// (simd/dispatch.h): GEMV for one row, GEMM tiles for several.
#pragma once

#include <cstdint>

#include "core/gguf/tensor.h"

namespace moerun {

// w: [N, K] (ne[0] = K, ne[1] = N), x: B rows of K floats (row stride ldx),
// y: B rows of N floats (row stride ldy).
void matmul(const TensorView& w, const float* x, int64_t ldx, int64_t B, float* y, int64_t ldy);

// The same for a gathered subset of rows (MoE: the tokens routed to one
// expert): activation row rows[b] of x goes to output row rows[b] of y, for
// b in [0, B). w is one expert's [N, K] matrix (TensorView::slice).
void matmul_rows(const TensorView& w, const float* x, int64_t ldx, const int32_t* rows, int64_t B, float* y,
                 int64_t ldy);

// Dequantizes row `i` of w into dst (ne[0] floats): embedding lookups.
void dequantize_row(const TensorView& w, int64_t i, float* dst);

}  // namespace moerun
