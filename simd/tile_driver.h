// Walks a MatmulArgs range with a kernel's register tiles: NR weight rows x
// NC activation rows per call (NC is a template parameter, as ik_llama.cpp's
// iqk mul_mat_*<nrc_y> kernels), remainders with smaller tiles. ISA-neutral:
// each simd/<isa>/ file instantiates it with its own kernel types (in an
// anonymous namespace, so instantiations never merge across ISAs).
//
// A Kernel provides:
//   template <int NR, int NC> static void tile(const MatmulArgs&, int64_t r0, int64_t c0);
//   kGemvRows: NR for B == 1 (rows sharing each activation load)
//   kGemmRows, kGemmCols: NR x NC for B > 1 (kGemmCols <= 8)
#pragma once

#include <cstddef>
#include <cstdint>

#include "simd/dispatch.h"

namespace moerun::tiles {

// Decode (NC == 1) streams every weight byte once, and the hardware
// prefetcher alone kept too few lines in flight per core on the 2-vCPU Xeon
// these kernels were tuned on (AVX-512 Q4_K GEMV: ~45% of the STREAM triad
// without, ~93% with). So does a tile that takes every column at once (a
// few columns: an expert's tokens in batched decode). Prefetches into L2
// bytes [off, off + len) of the next tile's NR rows (the same K position),
// when this call has a next tile.
// Always inlined: a call inside the K loop would spill every vector
// accumulator (all zmm registers are caller-saved), and GCC 12 declined to
// inline it (halving Q4_K GEMV speed).
// Rows of p.w that may be prefetched (MatmulArgs::n_prefetch).
inline int64_t prefetch_rows(const MatmulArgs& p) { return p.n_prefetch > p.N ? p.n_prefetch : p.N; }

template <int NR, int NC>
[[gnu::always_inline]] inline void prefetch_next_tile(const MatmulArgs& p, int64_t r0, size_t off, size_t len) {
  if (NC == 1 || p.B <= NC) {
    if (r0 + 2 * NR > prefetch_rows(p)) return;
    const uint8_t* q = p.w + (r0 + NR) * p.w_stride + off;
    for (int r = 0; r < NR; ++r, q += p.w_stride) {
      for (size_t o = 0; o < len; o += 64) __builtin_prefetch(q + o, 0, 2);  // 2: prefetcht1 on x86
    }
  }
}

// The tile's NR weight rows from row r0, each advanced by `skip` elements of
// T (a block type: the blocks before the pass; bytes: their size).
template <class T, int NR>
inline void tile_rows(const MatmulArgs& p, int64_t r0, int64_t skip, const T* (&w)[NR]) {
  for (int r = 0; r < NR; ++r) w[r] = reinterpret_cast<const T*>(p.w + (r0 + r) * p.w_stride) + skip;
}

// What the kernels prefetch: bytes from a row of this tile to the same row of
// the next tile (same K position), or 0 when this call has no next tile.
template <int NR>
inline size_t next_tile(const MatmulArgs& p, int64_t r0) {
  return r0 + 2 * NR <= prefetch_rows(p) ? NR * p.w_stride : 0;
}

// Prefetches into L2 `len` bytes at w[r] + pf for each of the NR rows: a
// tile's rows at the K position it is about to read, pf = next_tile() bytes
// ahead (the kernels that hold row pointers instead of recomputing them).
template <int NR>
[[gnu::always_inline]] inline void prefetch_ahead(const uint8_t* const (&w)[NR], size_t pf, size_t len) {
  if (pf == 0) return;
  for (int r = 0; r < NR; ++r) {
    for (size_t o = 0; o < len; o += 64) __builtin_prefetch(w[r] + pf + o, 0, 2);  // 2: prefetcht1 on x86
  }
}

// Output row of activation row c.
inline float* out_row(const MatmulArgs& p, int64_t c) {
  return p.y + (p.out_rows != nullptr ? p.out_rows[c] : c) * p.ldy;
}

template <class Kern, int NR, int NC>
void rows_pass(const MatmulArgs& p, int64_t c0) {
  int64_t r = 0;
  for (; r + NR <= p.N; r += NR) Kern::template tile<NR, NC>(p, r, c0);
  for (; r < p.N; ++r) Kern::template tile<1, NC>(p, r, c0);
}

// Columns left over after the full kGemmCols tiles: one pass with NC = rest.
template <class Kern, int NC>
void cols_rest(const MatmulArgs& p, int64_t c0, int64_t rest) {
  if constexpr (NC > 0) {
    if (rest == NC) {
      rows_pass<Kern, Kern::kGemmRows, NC>(p, c0);
      return;
    }
    cols_rest<Kern, NC - 1>(p, c0, rest);
  }
}

template <class Kern>
void gemm(const MatmulArgs& p) {
  constexpr int C = Kern::kGemmCols;
  static_assert(C >= 1 && C <= 8);
  int64_t c = 0;
  for (; c + C <= p.B; c += C) rows_pass<Kern, Kern::kGemmRows, C>(p, c);
  if (c < p.B) cols_rest<Kern, C - 1>(p, c, p.B - c);
}

template <class Kern>
void gemv(const MatmulArgs& p) {
  for (int64_t c = 0; c < p.B; ++c) rows_pass<Kern, Kern::kGemvRows, 1>(p, c);
}

template <class Kern>
float dot(int64_t n, const void* w, const void* a) {
  float y = 0;
  MatmulArgs p;
  p.K = n;
  p.w = static_cast<const uint8_t*>(w);
  p.N = 1;
  p.a = static_cast<const uint8_t*>(a);
  p.B = 1;
  p.y = &y;
  p.ldy = 1;
  Kern::template tile<1, 1>(p, 0, 0);
  return y;
}

// Installs a kernel's dot/GEMV/GEMM for weight format q (quantize untouched).
template <class Kern>
void install(KernelTable& t, QType q) {
  FormatKernels& k = t.fmt[format_index(q)];
  k.dot = dot<Kern>;
  k.gemv = gemv<Kern>;
  k.gemm = gemm<Kern>;
}

}  // namespace moerun::tiles
