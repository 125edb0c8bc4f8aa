// matmul: y = x · Wᵀ for a weight W in any block format, over B activation
// rows. Activations are quantized once per row to W's vec_dot_type (as
// llama.cpp does, so the numerics match) and the rows of W are split over
// the OpenMP threads in contiguous chunks, each thread streaming its own part
// of the weight. The kernels come from the active ISA's table
// (simd/dispatch.h): GEMV for one row, GEMM tiles for several.
#pragma once

#include <cstdint>
#include <vector>

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

// One matmul per head over a [H, N, K] weight (MLA's per-head W_kb and
// W_vb): head h multiplies activation rows x + h * x_head (row stride ldx)
// by slice h into y + h * y_head (row stride ldy). One parallel region over
// the rows of every head, activations quantized once: at decode each head
// is a few tens of KB, too small to be a thread's whole item.
void matmul_heads(const TensorView& w, const float* x, int64_t ldx, int64_t x_head, int64_t B, float* y, int64_t ldy,
                  int64_t y_head);

// Several matmuls over the same activation rows (a SwiGLU's gate and up,
// attention's q, k and v): the rows are quantized once and one parallel
// region hands out row chunks of every matrix. Consecutive weights of one
// format and K share it; the others start a new group.
struct MatmulOut {
  const TensorView* w;
  float* y;
  int64_t ldy;
};
void matmul_many(const MatmulOut* outs, int n, const float* x, int64_t ldx, int64_t B);
void matmul2(const TensorView& w0, float* y0, int64_t ldy0, const TensorView& w1, float* y1, int64_t ldy1,
             const float* x, int64_t ldx, int64_t B);

// Dequantizes row `i` of w into dst (ne[0] floats): embedding lookups.
void dequantize_row(const TensorView& w, int64_t i, float* dst);

// Activation rows quantized once to the vec_dot_type of a weight format,
// for several matmuls over the same input (MoE decode: every chosen
// expert's gate and up read the same token).
struct QuantizedRows {
  QType type = QType::F32;  // the activation format
  int64_t K = 0;
  int64_t B = 0;
  size_t row = 0;  // bytes per row
  std::vector<uint8_t> bytes;
  const uint8_t* at(int64_t b) const { return bytes.data() + static_cast<size_t>(b) * row; }
};

// Quantizes B rows of x (row stride ldx, K = w_type's row length) for
// weights of w_type: shared over the threads when there are many (as
// matmul does), on the calling thread otherwise or inside a parallel region.
void quantize_rows_for(QType w_type, const float* x, int64_t ldx, int64_t K, int64_t B, QuantizedRows& out);

// Sizes `out` for B rows of K without filling them, and quantizes one row
// into a row of it: for callers that fill rows from inside their own
// parallel region.
void prepare_rows_for(QType w_type, int64_t K, int64_t B, QuantizedRows& out);
void quantize_row_for(QuantizedRows& out, int64_t b, const float* x);
// Packed activations (simd FormatKernels::gemm_packed: 16 columns across a
// vector) for B rows of weights of w_type: their size, or 0 where the ISA
// has no packed GEMM for it or B is too small for one to pay (matmul takes
// the same choice).
size_t packed_rows_bytes(QType w_type, int64_t B, int64_t K);
// Packs B quantized rows (a, a_stride bytes apart) into out, on the calling thread.
void pack_rows(QType w_type, const uint8_t* a, size_t a_stride, int64_t B, int64_t K, uint8_t* out);
// matmul_rows_range over packed rows (pack_rows): output rows y + b * ldy.
void matmul_packed_range(const TensorView& w, const uint8_t* packed, int64_t B, int64_t n0, int64_t n1, float* y,
                         int64_t ldy);
// y[b * ldy + r] = dot(row r of w, activation row b) for rows r in [n0, n1)
// and b < B, on the calling thread: one GEMV or GEMM-tile call. a: B rows of
// w's vec_dot_type, a_stride bytes apart.
void matmul_rows_range(const TensorView& w, const uint8_t* a, size_t a_stride, int64_t B, int64_t n0, int64_t n1,
                       float* y, int64_t ldy);

}  // namespace moerun
