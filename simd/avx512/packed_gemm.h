// The walk of the AVX-512 packed-activation GEMMs (q_legacy_gemm_packed.cpp,
// q4_k_gemm_packed.cpp): activation columns packed 16 to a zmm once per
// matmul, weights unpacked a tile of up to 8 rows x one pass of K at a time
// into a stack buffer, and every column group of a column block run against
// that buffer before the next pass. Sums of earlier passes wait in a small
// buffer of 16-column rows; the last pass writes them to their output rows.
// Include only from simd/avx512/ (needs its flags); everything is in an
// anonymous namespace, as each file's kernels.
//
// A Kern provides:
//   Block                 the weight block
//   PackedBlock           one block of 16 packed activation columns
//   WeightPass            the unpacked weights of kMaxRows rows x kPassBlocks
//   kPassBlocks           weight blocks per pass
//   static void unpack(const Block* row, int nbp, int r, WeightPass&)
//   template <int NR> static void tile(const WeightPass&, int nbp,
//       const PackedBlock* act, __m512 (&acc)[kMaxRows])
//                         rows 0..NR of the pass against one column group;
//                         acc holds the sums so far, one column per lane
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "simd/dispatch.h"
#include "simd/tile_driver.h"

namespace moerun {
namespace {

constexpr int kLanes = 16;          // activation columns per group (one zmm of int32 / float)
constexpr int kMaxRows = 8;         // weight rows per tile: 8 dot + 8 float accumulators
constexpr int kGroupsPerBlock = 8;  // column groups per column block: 128 columns

// Packs activation column groups [g0, g1) of B rows of ActBlocks (a_stride
// bytes apart, nb blocks each): fill(packed block, lane, block) puts one
// column's block into its lane; lanes past B get an all-zero block, so they
// add nothing.
template <class Packed, class ActBlock, class Fill>
void pack_groups(const uint8_t* a, size_t a_stride, int64_t B, int64_t nb, int64_t g0, int64_t g1, uint8_t* out,
                 Fill fill) {
  static const ActBlock kZero{};
  auto* pb = reinterpret_cast<Packed*>(out);
  for (int64_t g = g0; g < g1; ++g) {
    for (int64_t j = 0; j < nb; ++j) {
      for (int c = 0; c < kLanes; ++c) {
        const int64_t col = g * kLanes + c;
        fill(pb[g * nb + j], c, col < B ? reinterpret_cast<const ActBlock*>(a + col * a_stride)[j] : kZero);
      }
    }
  }
}

template <class Kern>
struct PackedGemm {
  using PackedBlock = typename Kern::PackedBlock;
  using WeightPass = typename Kern::WeightPass;
  using Part = float[kMaxRows][kLanes];

  template <int NR>
  static void pass(const WeightPass& w, int nbp, const PackedBlock* act, int64_t nb, int64_t g0, int64_t g1,
                   Part* part) {
    for (int64_t g = g0; g < g1; ++g) {
      __m512 acc[kMaxRows];
      for (int r = 0; r < NR; ++r) acc[r] = _mm512_load_ps(part[g - g0][r]);
      Kern::template tile<NR>(w, nbp, act + g * nb, acc);
      for (int r = 0; r < NR; ++r) _mm512_store_ps(part[g - g0][r], acc[r]);
    }
  }

  static void run_pass(int nr, const WeightPass& w, int nbp, const PackedBlock* act, int64_t nb, int64_t g0,
                       int64_t g1, Part* part) {
    switch (nr) {
      case 1: pass<1>(w, nbp, act, nb, g0, g1, part); break;
      case 2: pass<2>(w, nbp, act, nb, g0, g1, part); break;
      case 3: pass<3>(w, nbp, act, nb, g0, g1, part); break;
      case 4: pass<4>(w, nbp, act, nb, g0, g1, part); break;
      case 5: pass<5>(w, nbp, act, nb, g0, g1, part); break;
      case 6: pass<6>(w, nbp, act, nb, g0, g1, part); break;
      case 7: pass<7>(w, nbp, act, nb, g0, g1, part); break;
      default: pass<8>(w, nbp, act, nb, g0, g1, part); break;
    }
  }

  // p.a: the packed activations of p.B columns; p.N weight rows.
  static void gemm(const MatmulArgs& p) {
    using Block = typename Kern::Block;
    const int64_t nb = p.K / Block::kSize;
    const int64_t groups = (p.B + kLanes - 1) / kLanes;
    const auto* act = reinterpret_cast<const PackedBlock*>(p.a);
    WeightPass w;
    alignas(64) Part part[kGroupsPerBlock];
    for (int64_t g0 = 0; g0 < groups; g0 += kGroupsPerBlock) {
      const int64_t g1 = std::min(groups, g0 + kGroupsPerBlock);
      for (int64_t r0 = 0; r0 < p.N; r0 += kMaxRows) {
        const int nr = static_cast<int>(std::min<int64_t>(kMaxRows, p.N - r0));
        // Each row's bytes of the next tile are fetched into L2 as the row is
        // unpacked: with few columns the unpack otherwise waits on memory.
        const size_t pf = tiles::next_tile<kMaxRows>(p, r0);
        std::memset(part, 0, sizeof(part));
        for (int64_t k0 = 0; k0 < nb; k0 += Kern::kPassBlocks) {
          const int nbp = static_cast<int>(std::min<int64_t>(Kern::kPassBlocks, nb - k0));
          for (int r = 0; r < nr; ++r) {
            const uint8_t* const row[1] = {p.w + (r0 + r) * p.w_stride + k0 * sizeof(Block)};
            tiles::prefetch_ahead(row, pf, nbp * sizeof(Block));
            Kern::unpack(reinterpret_cast<const Block*>(row[0]), nbp, r, w);
          }
          run_pass(nr, w, nbp, act + k0, nb, g0, g1, part);
        }
        for (int64_t g = g0; g < g1; ++g) {
          for (int c = 0; c < kLanes && g * kLanes + c < p.B; ++c) {
            float* y = tiles::out_row(p, g * kLanes + c) + r0;
            for (int r = 0; r < nr; ++r) y[r] = part[g - g0][r][c];
          }
        }
      }
    }
  }
};

}  // namespace
}  // namespace moerun
