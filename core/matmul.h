// matmul: y = x · Wᵀ for a weight W in any block format, over B activation
// rows. Activations are quantized once per row to W's vec_dot_type (as
// llama.cpp does, so the numerics match) and the rows of W are split over
// the OpenMP threads, each streaming its own contiguous part of the weight.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace moerun {

// w: [N, K] (ne[0] = K, ne[1] = N), x: B rows of K floats (row stride ldx),
// y: B rows of N floats (row stride ldy).
void matmul(const TensorView& w, const float* x, int64_t ldx, int64_t B, float* y, int64_t ldy);

// Dequantizes row `i` of w into dst (ne[0] floats): embedding lookups.
void dequantize_row(const TensorView& w, int64_t i, float* dst);

}  // namespace moerun
