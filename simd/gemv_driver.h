// The decode GEMV's walk over K, shared by the batched GEMV kernels of every
// ISA (simd/avx512/q_legacy_gemv.cpp, simd/avx512/k_gemv.cpp,
// simd/avx2/*_gemv_impl.h). K goes in passes: each pass prepares its part of
// the activation once (bytes reordered to the weights' nibble order, scales,
// sums) into a stack buffer that every row tile of the pass reuses, then runs
// the row tiles, adding into y after the first pass. ISA-neutral: each
// simd/<isa>/ file instantiates it with its own kernel types (in an anonymous
// namespace, as tile_driver.h).
//
// A Kern provides:
//   ActBlock              the activation block (BlockQ8_0, BlockQ8_K)
//   Act, kUnit            one prepared unit: kUnit activation blocks
//   kPassUnits            units per pass (the stack buffer)
//   kRows                 rows per tile; the N % kRows rows left run as one
//                         smaller tile
//   static void prep(const ActBlock* a, int n, Act& out)
//                         n <= kUnit blocks (fewer: the last unit of a K
//                         that is not a multiple of kUnit)
//   template <int NR> static void rows(const MatmulArgs&, int64_t r0,
//       int64_t k0, int64_t nblk, const Act* act, float* y, bool add)
//                         rows [r0, r0 + NR) over blocks [k0, k0 + nblk);
//                         y[r] = sum, or y[r] + sum when add
#pragma once

#include <algorithm>
#include <cstdint>

#include "simd/tile_driver.h"

namespace moerun::tiles {

template <class Kern, int NR>
void rows_left(const MatmulArgs& p, int64_t r, int64_t k0, int64_t nblk, const typename Kern::Act* act, float* y,
               bool add) {
  if constexpr (NR > 0) {
    if (p.N - r == NR) {
      Kern::template rows<NR>(p, r, k0, nblk, act, y, add);
    } else {
      rows_left<Kern, NR - 1>(p, r, k0, nblk, act, y, add);
    }
  }
}

template <class Kern>
void gemv_passes(const MatmulArgs& p) {
  using ActBlock = typename Kern::ActBlock;
  constexpr int64_t kUnit = Kern::kUnit;
  constexpr int64_t kPass = int64_t{Kern::kPassUnits} * kUnit;
  const int64_t nb = p.K / ActBlock::kSize;
  typename Kern::Act act[Kern::kPassUnits];
  for (int64_t c = 0; c < p.B; ++c) {
    float* y = out_row(p, c);
    const auto* arow = reinterpret_cast<const ActBlock*>(p.a + c * p.a_stride);
    for (int64_t k0 = 0; k0 < nb; k0 += kPass) {
      const int64_t nblk = std::min(nb - k0, kPass);
      for (int64_t j = 0; j * kUnit < nblk; ++j) {
        Kern::prep(arow + k0 + j * kUnit, static_cast<int>(std::min(kUnit, nblk - j * kUnit)), act[j]);
      }
      const bool add = k0 > 0;
      int64_t r = 0;
      for (; r + Kern::kRows <= p.N; r += Kern::kRows) Kern::template rows<Kern::kRows>(p, r, k0, nblk, act, y, add);
      rows_left<Kern, Kern::kRows - 1>(p, r, k0, nblk, act, y, add);
    }
  }
}

// A GEMM that runs Kern's GEMV once per activation row when there are at
// most kGemvCols of them (the experts of batched decode: 1-8 tokens each),
// and the tile GEMM it replaces otherwise. The call's rows (a 64-row tile:
// ~72 KB of Q4_K at K = 2048) stay in L2 from the first activation row on,
// so memory is still read once; and each output gets the GEMV's floats, so
// a sequence's greedy answer in `batch` does not depend on what else shares
// its decode step.
constexpr int64_t kGemvCols = 8;
template <class Kern>
struct FewColsGemm {
  static inline GemmFn tile = nullptr;
  static void gemm(const MatmulArgs& p) {
    if (p.B <= kGemvCols) {
      gemv_passes<Kern>(p);
    } else {
      tile(p);
    }
  }
  // Call after the tile GEMM is installed in f.
  static void install(FormatKernels& f) {
    tile = f.gemm;
    f.gemm = gemm;
  }
};

}  // namespace moerun::tiles
