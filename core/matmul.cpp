#include "core/matmul.h"

#include <omp.h>

#include <algorithm>
#include <vector>

#include "simd/dispatch.h"

namespace moerun {
namespace {

// Rows per GEMM call when B > 1: the tile's weights (64 rows x a few KB)
// stay in L2 while every activation row passes over them.
constexpr int64_t kGemmRowTile = 64;
// Chunk boundaries are multiples of this, so the kernels' 4-row GEMV tiles
// (simd/<isa>/) rarely fall back to single rows.
constexpr int64_t kRowAlign = 4;

void run(const TensorView& w, const float* x, int64_t ldx, const int32_t* rows, int64_t B, float* y, int64_t ldy) {
  const int64_t K = w.ne[0];
  const int64_t N = w.ne[1];
  if (B <= 0 || N <= 0) return;
  const KernelTable& kt = kernels();
  const FormatTraits& wf = format_traits(w.type);
  const FormatKernels& wk = kt.of(w.type);
  const QuantizeFn quantize = kt.of(wf.vec_dot_type).quantize;

  // Quantize each (gathered) activation row once; every weight row reuses it.
  const size_t a_row = row_bytes(wf.vec_dot_type, K);
  thread_local std::vector<uint8_t> act;
  act.resize(a_row * static_cast<size_t>(B));
  uint8_t* const abuf = act.data();  // not `act` inside the parallel loops: it is per thread
  auto xrow = [&](int64_t b) { return x + (rows != nullptr ? rows[b] : b) * ldx; };
  if (B == 1 || B * K < (1 << 16)) {
    for (int64_t b = 0; b < B; ++b) quantize(xrow(b), abuf + b * a_row, K);
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < B; ++b) quantize(xrow(b), abuf + b * a_row, K);
  }

  MatmulArgs base;
  base.K = K;
  base.w_stride = w.row_bytes;
  base.a = abuf;
  base.a_stride = a_row;
  base.B = B;
  base.ldy = ldy;
  base.out_rows = rows;
  const GemmFn fn = B == 1 ? wk.gemv : wk.gemm;
  const int64_t tile = B == 1 ? N : kGemmRowTile;

  // Each thread takes one contiguous run of rows (a multiple of kRowAlign).
  const int threads = static_cast<int>(std::min<int64_t>(omp_get_max_threads(), (N + kRowAlign - 1) / kRowAlign));
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int nt = omp_get_num_threads();
    const int64_t units = (N + kRowAlign - 1) / kRowAlign;
    const int64_t n0 = std::min(N, units * t / nt * kRowAlign);
    const int64_t n1 = std::min(N, units * (t + 1) / nt * kRowAlign);
    for (int64_t r = n0; r < n1; r += tile) {
      MatmulArgs p = base;
      p.w = w.row(r);
      p.N = std::min(tile, n1 - r);
      p.y = y + r;
      fn(p);
    }
  }
}

}  // namespace

void matmul(const TensorView& w, const float* x, int64_t ldx, int64_t B, float* y, int64_t ldy) {
  run(w, x, ldx, nullptr, B, y, ldy);
}

void matmul_rows(const TensorView& w, const float* x, int64_t ldx, const int32_t* rows, int64_t B, float* y,
                 int64_t ldy) {
  run(w, x, ldx, rows, B, y, ldy);
}

void dequantize_row(const TensorView& w, int64_t i, float* dst) {
  format_traits(w.type).dequantize(w.row(i), dst, w.ne[0]);
}

}  // namespace moerun
