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

using Target = MatmulOut;

// Per-head activations (matmul_heads): target t reads its rows at
// x + t * head_stride, and the targets are consecutive slices of one tensor,
// so a thread's prefetch runs on from one head's rows into the next.
struct Heads {
  int64_t stride = 0;  // 0: every target reads the same rows
  bool contiguous = false;
};

// Quantizing B activation rows of K is shared over the threads when there
// is enough of it and no parallel region is already running.
bool quantize_in_parallel(int64_t B, int64_t K) { return B > 1 && B * K >= (1 << 16) && !in_parallel(); }

// y_t = x . W_t^T for every target t: the activation rows are quantized (and
// packed) once for all of them, and one parallel region hands out row chunks
// of all the targets. Targets share format and K.
void run(const Target* targets, int n_targets, const float* x, int64_t ldx, const int32_t* rows, int64_t B,
         Heads heads = {}) {
  const TensorView& w = *targets[0].w;
  const int64_t K = w.ne[0];
  if (B <= 0) return;
  const KernelTable& kt = kernels();
  const FormatTraits& wf = format_traits(w.type);
  const FormatKernels& wk = kt.of(w.type);
  const QuantizeFn quantize = kt.of(wf.vec_dot_type).quantize;

  // Quantize each (gathered) activation row once; every weight row reuses it.
  // Per-head activations: the B rows of head t from row t * B on.
  const int64_t n_act = heads.stride != 0 ? n_targets * B : B;
  const size_t a_row = row_bytes(wf.vec_dot_type, K);
  thread_local std::vector<uint8_t> act;
  act.resize(a_row * static_cast<size_t>(n_act));
  uint8_t* const abuf = act.data();  // not `act` inside the parallel loops: it is per thread
  auto xrow = [&](int64_t i) {
    const int64_t b = i % B;
    return x + (i / B) * heads.stride + (rows != nullptr ? rows[b] : b) * ldx;
  };
  if (quantize_in_parallel(n_act, K)) {
    parallel_for(n_act, [&](int64_t i) { quantize(xrow(i), abuf + i * a_row, K); });
  } else {
    for (int64_t i = 0; i < n_act; ++i) quantize(xrow(i), abuf + i * a_row, K);
  }

  MatmulArgs base;
  base.K = K;
  base.w_stride = w.row_bytes;
  base.a = abuf;
  base.a_stride = a_row;
  base.B = B;
  base.out_rows = rows;
  GemmFn fn = B == 1 ? wk.gemv : wk.gemm;
  if (const size_t packed_bytes = packed_rows_bytes(w.type, B, K); packed_bytes > 0) {
    // Packed once here, read by every row chunk.
    thread_local std::vector<uint8_t> packed;
    packed.resize(packed_bytes);
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

  // Rows [n0, n1) of target t, in tiles (GEMM) or one call (GEMV).
  auto part = [&](int t, int64_t n0, int64_t n1) {
    const TensorView& wt = *targets[t].w;
    const int64_t N = wt.ne[1];
    const int64_t tile = B == 1 ? n1 - n0 : kGemmRowTile;
    // Rows of the following heads lie right after this one's.
    const int64_t after = heads.contiguous ? (n_targets - 1 - t) * N : 0;
    for (int64_t r = n0; r < n1; r += tile) {
      MatmulArgs p = base;
      if (heads.stride != 0) p.a = abuf + static_cast<size_t>(t * B) * a_row;
      p.w = wt.row(r);
      p.N = std::min(tile, n1 - r);
      p.n_prefetch = N - r + after;  // the thread's next chunk is usually the next rows
      p.y = targets[t].y + r;
      p.ldy = targets[t].ldy;
      fn(p);
    }
  };

  size_t bytes = 0;
  int64_t all_rows = 0;
  for (int t = 0; t < n_targets; ++t) {
    bytes += targets[t].w->row_bytes * static_cast<size_t>(targets[t].w->ne[1]);
    all_rows += targets[t].w->ne[1];
  }
  // Inside a parallel region (an expert on its thread) a nested region would
  // get one thread anyway: skip its fork/join.
  const bool small = in_parallel() || (B == 1 && bytes < kMinParallelBytes);
  if (small || threads() == 1) {
    for (int t = 0; t < n_targets; ++t) part(t, 0, targets[t].w->ne[1]);
    return;
  }
  // Chunks: GEMV, runs of rows (multiples of kRowAlign), kChunksPerThread
  // per thread over all targets (each still hundreds of KB for a large
  // matrix); GEMM, one 64-row tile each. Threads take contiguous runs of
  // chunks first (core/compute/thread_pool), so each streams its rows in
  // order, and a preempted thread's chunks go to the other.
  struct Chunk {
    int t;
    int64_t n0, n1;
  };
  thread_local std::vector<Chunk> chunk_list;
  chunk_list.clear();
  const int64_t want = B == 1 ? int64_t{threads()} * kChunksPerThread : 0;
  // A GEMM of fewer tiles than threads (an MoE router's 64 rows x the
  // tokens of a batched decode step) is cut into one run per thread: one
  // 64-row tile left the other threads waiting (ds2-lite, 8 sequences:
  // moe.router ~6 ms of a ~200 ms step on one of 2 threads).
  int64_t gemm_per = kGemmRowTile;
  if (B > 1 && (all_rows + kGemmRowTile - 1) / kGemmRowTile < threads()) {
    gemm_per = std::max(kRowAlign, (all_rows / threads() + kRowAlign - 1) / kRowAlign * kRowAlign);
  }
  for (int t = 0; t < n_targets; ++t) {
    const int64_t N = targets[t].w->ne[1];
    int64_t per = gemm_per;
    if (B == 1) {
      const int64_t units = (N + kRowAlign - 1) / kRowAlign;
      const int64_t mine = std::max<int64_t>(1, want * N / all_rows);
      per = (units + mine - 1) / mine * kRowAlign;
    }
    for (int64_t r = 0; r < N; r += per) chunk_list.push_back({t, r, std::min(N, r + per)});
  }
  const Chunk* chunks = chunk_list.data();  // the workers read the caller's list
  parallel_for(static_cast<int64_t>(chunk_list.size()),
               [&](int64_t c) { part(chunks[c].t, chunks[c].n0, chunks[c].n1); });
}

}  // namespace

void matmul(const TensorView& w, const float* x, int64_t ldx, int64_t B, float* y, int64_t ldy) {
  if (w.ne[1] <= 0) return;
  const Target t{&w, y, ldy};
  run(&t, 1, x, ldx, nullptr, B);
}

void matmul_rows(const TensorView& w, const float* x, int64_t ldx, const int32_t* rows, int64_t B, float* y,
                 int64_t ldy) {
  if (w.ne[1] <= 0) return;
  const Target t{&w, y, ldy};
  run(&t, 1, x, ldx, rows, B);
}

void matmul_heads(const TensorView& w, const float* x, int64_t ldx, int64_t x_head, int64_t B, float* y, int64_t ldy,
                  int64_t y_head) {
  const int64_t H = w.ne[2];
  if (w.ne[1] <= 0 || H <= 0 || B <= 0) return;
  if (H == 1 || packed_rows_bytes(w.type, B, w.ne[0]) > 0) {
    // Prefill: each head is a large GEMM of its own, packed once; one thread
    // per head (nested regions run on the calling thread).
    parallel_for(H, [&](int64_t h) { matmul(w.slice(h), x + h * x_head, ldx, B, y + h * y_head, ldy); });
    return;
  }
  thread_local std::vector<TensorView> slices;
  thread_local std::vector<Target> targets;
  slices.resize(static_cast<size_t>(H));
  targets.resize(static_cast<size_t>(H));
  for (int64_t h = 0; h < H; ++h) {
    slices[h] = w.slice(h);
    targets[h] = {&slices[h], y + h * y_head, ldy};
  }
  const bool contiguous = w.slice_bytes == 0 || w.slice_bytes == static_cast<size_t>(w.ne[1]) * w.row_bytes;
  run(targets.data(), static_cast<int>(H), x, ldx, nullptr, B, Heads{x_head, contiguous});
}

void matmul_many(const MatmulOut* outs, int n, const float* x, int64_t ldx, int64_t B) {
  // Runs of consecutive targets that share format and K go together.
  for (int i = 0; i < n;) {
    int j = i + 1;
    while (j < n && outs[j].w->type == outs[i].w->type && outs[j].w->ne[0] == outs[i].w->ne[0]) ++j;
    run(outs + i, j - i, x, ldx, nullptr, B);
    i = j;
  }
}

void matmul2(const TensorView& w0, float* y0, int64_t ldy0, const TensorView& w1, float* y1, int64_t ldy1,
             const float* x, int64_t ldx, int64_t B) {
  const MatmulOut t[2] = {{&w0, y0, ldy0}, {&w1, y1, ldy1}};
  matmul_many(t, 2, x, ldx, B);
}

void prepare_rows_for(QType w_type, int64_t K, int64_t B, QuantizedRows& out) {
  const QType at = format_traits(w_type).vec_dot_type;
  out.type = at;
  out.K = K;
  out.B = B;
  out.row = row_bytes(at, K);
  out.bytes.resize(out.row * static_cast<size_t>(B));
}

void quantize_rows_for(QType w_type, const float* x, int64_t ldx, int64_t K, int64_t B, QuantizedRows& out) {
  prepare_rows_for(w_type, K, B, out);
  const QuantizeFn quantize = kernels().of(out.type).quantize;
  uint8_t* const dst = out.bytes.data();
  const size_t row = out.row;
  auto one = [&](int64_t b) { quantize(x + b * ldx, dst + b * row, K); };
  if (quantize_in_parallel(B, K)) {
    parallel_for(B, one);
  } else {
    for (int64_t b = 0; b < B; ++b) one(b);
  }
}

void quantize_row_for(QuantizedRows& out, int64_t b, const float* x) {
  kernels().of(out.type).quantize(x, out.bytes.data() + static_cast<size_t>(b) * out.row, out.K);
}

size_t packed_rows_bytes(QType w_type, int64_t B, int64_t K) {
  const FormatKernels& wk = kernels().of(w_type);
  if (B < kMinPackedCols || wk.gemm_packed == nullptr) return 0;
  return wk.packed_act_bytes(B, K);
}

void pack_rows(QType w_type, const uint8_t* a, size_t a_stride, int64_t B, int64_t K, uint8_t* out) {
  kernels().of(w_type).pack_act(a, a_stride, B, K, 0, (B + kPackGroup - 1) / kPackGroup, out);
}

namespace {

// Kernel arguments for rows [n0, n1) of w against B activation rows.
MatmulArgs range_args(const TensorView& w, const uint8_t* a, size_t a_stride, int64_t B, int64_t n0, int64_t n1,
                      float* y, int64_t ldy) {
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
  return p;
}

}  // namespace

void matmul_packed_range(const TensorView& w, const uint8_t* packed, int64_t B, int64_t n0, int64_t n1, float* y,
                         int64_t ldy) {
  if (B <= 0 || n1 <= n0) return;
  kernels().of(w.type).gemm_packed(range_args(w, packed, 0, B, n0, n1, y, ldy));
}

void matmul_rows_range(const TensorView& w, const uint8_t* a, size_t a_stride, int64_t B, int64_t n0, int64_t n1,
                       float* y, int64_t ldy) {
  if (B <= 0 || n1 <= n0) return;
  const FormatKernels& wk = kernels().of(w.type);
  (B == 1 ? wk.gemv : wk.gemm)(range_args(w, a, a_stride, B, n0, n1, y, ldy));
}

void dequantize_row(const TensorView& w, int64_t i, float* dst) {
  format_traits(w.type).dequantize(w.row(i), dst, w.ne[0]);
}

}  // namespace moerun
