#include "core/compute/matmul.h"

#include <algorithm>
#include <vector>

#include "core/compute/thread_pool.h"
#include "simd/dispatch.h"

namespace moerun {
namespace {

// Rows per GEMM call when B > 1: the tile's weights (64 rows x a few KB)
// stay in L2 while every activation row passes over them.
constexpr int64_t kGemmRowTile = 64;
// Chunk boundaries are multiples of this, so the kernels' 4-row GEMV tiles
// (simd/<isa>/) rarely fall back to single rows.
constexpr int64_t kRowAlign = 4;
// A GEMV over fewer weight bytes than this runs on the calling thread: the
// fork/join of a 2-thread region costs more than the second core saves.
// Measured on a 2-vCPU Xeon (matmul, B = 1, spinning threads): a 17 KB Q8_0
// matrix took 1.45 us on 1 thread and 1.86 us on 2; 34 KB, 3.2 vs 2.9 us;
// 68 KB, 5.9 vs 4.3 us.
constexpr size_t kMinParallelBytes = size_t{32} << 10;
// Row runs per thread in a parallel GEMV (see run()).
constexpr int64_t kChunksPerThread = 8;
// Activation rows from which a packed GEMM (simd FormatKernels::gemm_packed)
// is used where the ISA has one: it fills 16 columns per vector, so it needs
// that many to beat the row-major tiles.
constexpr int64_t kMinPackedCols = 16;
constexpr int64_t kPackGroup = 16;  // columns per packed group

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
    parallel_for(B, [&](int64_t b) { quantize(xrow(b), abuf + b * a_row, K); });
  }

  MatmulArgs base;
  base.K = K;
  base.w_stride = w.row_bytes;
  base.a = abuf;
  base.a_stride = a_row;
  base.B = B;
  base.ldy = ldy;
  base.out_rows = rows;
  GemmFn fn = B == 1 ? wk.gemv : wk.gemm;
  if (B >= kMinPackedCols && wk.gemm_packed != nullptr) {
    // Packed once here, read by every row chunk.
    thread_local std::vector<uint8_t> packed;
    packed.resize(wk.packed_act_bytes(B, K));
    uint8_t* const pbuf = packed.data();
    const int64_t groups = (B + kPackGroup - 1) / kPackGroup;
    if (in_parallel() || groups < 4) {
      wk.pack_act(abuf, a_row, B, K, 0, groups, pbuf);
    } else {
      parallel_for(groups, [&](int64_t g) { wk.pack_act(abuf, a_row, B, K, g, g + 1, pbuf); });
    }
    base.a = pbuf;
    base.a_stride = 0;
    fn = wk.gemm_packed;
  }
  const int64_t tile = B == 1 ? N : kGemmRowTile;

  // Threads take contiguous runs of rows (multiples of kRowAlign) from a
  // shared counter, several per thread: with a static split, a thread the OS
  // preempts (another process on a 2-vCPU machine) stalls the whole matmul,
  // while here the other thread takes its remaining chunks.
  // Inside a parallel region (MoE decode runs one expert per thread) a
  // nested region would get one thread anyway: skip its fork/join.
  const bool small = in_parallel() || (B == 1 && w.row_bytes * static_cast<size_t>(N) < kMinParallelBytes);
  const int64_t units = (N + kRowAlign - 1) / kRowAlign;
  const int nt = small ? 1 : static_cast<int>(std::min<int64_t>(threads(), units));
  auto part = [&](int64_t n0, int64_t n1) {
    for (int64_t r = n0; r < n1; r += tile) {
      MatmulArgs p = base;
      p.w = w.row(r);
      p.N = std::min(tile, n1 - r);
      p.n_prefetch = N - r;  // the thread's next chunk is usually the next rows
      p.y = y + r;
      fn(p);
    }
  };
  if (nt == 1) {
    part(0, N);
    return;
  }
  // GEMV: kChunksPerThread runs per thread (each still hundreds of KB for a
  // large matrix); GEMM: one 64-row tile per chunk.
  const int64_t chunks = B == 1 ? std::min<int64_t>(units, int64_t{nt} * kChunksPerThread)
                                : (N + kGemmRowTile - 1) / kGemmRowTile;
  parallel_for(
      chunks,
      [&](int64_t c) {
        if (B == 1) {
          part(std::min(N, units * c / chunks * kRowAlign), std::min(N, units * (c + 1) / chunks * kRowAlign));
        } else {
          part(c * kGemmRowTile, std::min(N, (c + 1) * kGemmRowTile));
        }
      },
      nt);
}

}  // namespace

void matmul(const TensorView& w, const float* x, int64_t ldx, int64_t B, float* y, int64_t ldy) {
  run(w, x, ldx, nullptr, B, y, ldy);
}

void matmul_rows(const TensorView& w, const float* x, int64_t ldx, const int32_t* rows, int64_t B, float* y,
                 int64_t ldy) {
  run(w, x, ldx, rows, B, y, ldy);
}

void quantize_rows_for(QType w_type, const float* x, int64_t ldx, int64_t K, int64_t B, QuantizedRows& out) {
  const QType at = format_traits(w_type).vec_dot_type;
  out.type = at;
  out.K = K;
  out.B = B;
  out.row = row_bytes(at, K);
  out.bytes.resize(out.row * static_cast<size_t>(B));
  const QuantizeFn quantize = kernels().of(at).quantize;
  for (int64_t b = 0; b < B; ++b) quantize(x + b * ldx, out.bytes.data() + b * out.row, K);
}

void matmul_rows_range(const TensorView& w, const uint8_t* a, size_t a_stride, int64_t B, int64_t n0, int64_t n1,
                       float* y, int64_t ldy) {
  if (B <= 0 || n1 <= n0) return;
  const FormatKernels& wk = kernels().of(w.type);
  MatmulArgs p;
  p.K = w.ne[0];
  p.w = w.row(n0);
  p.w_stride = w.row_bytes;
  p.N = n1 - n0;
  p.a = a;
  p.a_stride = a_stride;
  p.B = B;
  p.y = y + n0;
  p.ldy = ldy;
  p.n_prefetch = w.ne[1] - n0;
  (B == 1 ? wk.gemv : wk.gemm)(p);
}

void dequantize_row(const TensorView& w, int64_t i, float* dst) {
  format_traits(w.type).dequantize(w.row(i), dst, w.ne[0]);
}

}  // namespace moerun
