// AVX-512 VNNI GEMM for Q4_K weights x Q8_K activations with many activation
// rows (prefill of Q4_K_M files, the busier MoE experts), with weight rows
// across the lanes (walk and why: lanes_gemm.h): a 32-weight sub-block of
// 16 rows against one column is 8 vpdpbusd, each fed by one broadcast word
// of the column that also serves the other 16 rows of the tile.
//
// Per super-block (256 weights), row and column: the 8 sub-block dots are
// scaled by their 6-bit scales in float (one cvt + fma each; the products
// stay below 2^22, so exact, and their sum below 2^25), the mins term
// sum_j m_j * sum(a over sub-block j) is 4 vpdpwssd of (m_2i, m_2i+1) pairs
// against the column's sub-block sums, and both are scaled once:
// d * d_a * sum - dmin * d_a * mins, in the scalar reference's order. The
// same sums as the columns-in-lanes kernel before this one, so the floats
// did not change.
//
// Layout: activations per column and super-block: 256 levels, the sub-block
// sums in int16 pairs, the scale; weights of a tile (2 x 16 rows x 2
// super-blocks) transposed into a stack buffer: per super-block 64 vectors
// of 16 rows x 4 nibble levels (element order), float scales, int16-pair
// mins, d and dmin, 16 rows each.
//
// Against the columns-in-lanes kernel, alternating: 64 experts' gate
// (2816 x 2048) cycled cold, 1 thread: B = 48 394-407 -> 459-469 GOP/s,
// B = 16 284-293 -> 297-301; 4096 x 2048 from cache, 2 threads: B = 128
// 713-865 -> 932-1006, B = 512 ~775 -> 971-1041.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "quant/block_common.h"
#include "quant/q4_k.h"
#include "quant/q8_k.h"
#include "simd/avx512/avx512.h"
#include "simd/avx512/lanes_gemm.h"

namespace moerun {
namespace {

constexpr int kSlots = BlockQ8_K::kSize / 4;  // 64 words of 4 levels
constexpr int kSub = 8;                       // 32-weight sub-blocks per super-block

struct KColBlock {
  int8_t q[BlockQ8_K::kSize];
  int32_t bs[kSub / 2];  // (sum of sub-block 2i, of 2i+1) as int16 pairs
  float d;
  int32_t pad;
};
static_assert(sizeof(KColBlock) == 280);

// 16 rows of one super-block; every array is one vector, 16 rows across.
struct KRowBlock {
  __m512i u[kSlots];
  float sc[kSub][kRowLanes];
  int32_t mins[kSub / 2][kRowLanes];  // m_2i | m_2i+1 << 16
  float d[kRowLanes], dmin[kRowLanes];
};

void pack(const uint8_t* a, size_t a_stride, int64_t B, int64_t K, int64_t g0, int64_t g1, uint8_t* out) {
  lanes_pack<KColBlock, BlockQ8_K>(a, a_stride, B, K, g0, g1, out, [](KColBlock& o, const BlockQ8_K& b) {
    std::memcpy(o.q, b.qs, sizeof(o.q));
    for (int i = 0; i < kSub / 2; ++i) {
      const auto lo = static_cast<uint16_t>(b.bsums[4 * i] + b.bsums[4 * i + 1]);
      const auto hi = static_cast<uint16_t>(b.bsums[4 * i + 2] + b.bsums[4 * i + 3]);
      o.bs[i] = static_cast<int32_t>(lo | (uint32_t{hi} << 16));
    }
    o.d = b.d;
    o.pad = 0;
  });
}

struct Q4KLanes {
  using Block = BlockQ4_K;
  using RowBlock = KRowBlock;
  using ColBlock = KColBlock;
  static constexpr int kMaxCols = 4;     // 2 x 4 dot + 2 x 4 sub-block sums + 2 x 4 totals in registers
  static constexpr int kPassBlocks = 2;  // 2 x 2 x 4.9 KB = 20 KB (4: no faster with cold experts)

  static void unpack(const Rows16& g, const uint8_t* b, KRowBlock& o) {
    // qs word k (k = 0..31) holds word k % 8 of sub-block 2 (k / 8) in its
    // low nibbles and of sub-block 2 (k / 8) + 1 in its high ones.
    for (int q = 0; q < 8; ++q) {
      __m512i x[4];
      g.words4(b, offsetof(Block, qs) + 16 * q, x);
      for (int i = 0; i < 4; ++i) {
        const int k = 4 * q + i;
        o.u[16 * (k / 8) + k % 8] = low_nibbles(x[i]);
        o.u[16 * (k / 8) + 8 + k % 8] = high_nibbles(x[i]);
      }
    }
    for (int r = 0; r < kRowLanes; ++r) {
      if (r >= g.rows) {
        for (int s = 0; s < kSub; ++s) o.sc[s][r] = 0.0f;
        for (int i = 0; i < kSub / 2; ++i) o.mins[i][r] = 0;
        o.d[r] = o.dmin[r] = 0.0f;
        continue;
      }
      const auto& blk = *reinterpret_cast<const Block*>(b + r * g.stride);
      uint8_t sc[kSub], mn[kSub];
      for (int s = 0; s < kSub; ++s) unpack_scale_min_k4(s, blk.scales, &sc[s], &mn[s]);
      for (int s = 0; s < kSub; ++s) o.sc[s][r] = sc[s];
      for (int i = 0; i < kSub / 2; ++i) o.mins[i][r] = int32_t{mn[2 * i]} | (int32_t{mn[2 * i + 1]} << 16);
      o.d[r] = _cvtsh_ss(blk.d);
      o.dmin[r] = _cvtsh_ss(blk.dmin);
    }
  }

  template <int G, int C>
  static void tile(const KRowBlock* const (&w)[kGroups], int nbp, const KColBlock* a, int64_t nb, float* part) {
    __m512 acc[G][C];
    load_sums(part, acc);
    for (int j = 0; j < nbp; ++j) {
      __m512 sum[G][C];
      for (int c = 0; c < C; ++c)
        for (int g = 0; g < G; ++g) sum[g][c] = _mm512_setzero_ps();
      for (int sb = 0; sb < kSub; ++sb) {
        __m512i dot[G][C];
        const __m512i* wu[G];
        const int8_t* q[C];
        for (int g = 0; g < G; ++g) wu[g] = w[g][j].u + 8 * sb;
        for (int c = 0; c < C; ++c) {
          q[c] = a[c * nb + j].q + 32 * sb;
          for (int g = 0; g < G; ++g) dot[g][c] = _mm512_setzero_si512();
        }
        dot32(wu, q, dot);
        for (int g = 0; g < G; ++g) {
          const __m512 sc = _mm512_load_ps(w[g][j].sc[sb]);
          for (int c = 0; c < C; ++c) sum[g][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[g][c]), sc, sum[g][c]);
        }
      }
      for (int c = 0; c < C; ++c) {
        const KColBlock& ac = a[c * nb + j];
        const __m512 da = _mm512_set1_ps(ac.d);
        for (int g = 0; g < G; ++g) {
          __m512i mins = _mm512_setzero_si512();
          for (int i = 0; i < kSub / 2; ++i) {
            mins = _mm512_dpwssd_epi32(mins, _mm512_load_si512(w[g][j].mins[i]), _mm512_set1_epi32(ac.bs[i]));
          }
          acc[g][c] = _mm512_fmadd_ps(sum[g][c], _mm512_mul_ps(_mm512_load_ps(w[g][j].d), da), acc[g][c]);
          acc[g][c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mins), _mm512_mul_ps(_mm512_load_ps(w[g][j].dmin), da),
                                       acc[g][c]);
        }
      }
    }
    store_sums(part, acc);
  }
};

}  // namespace

void fill_avx512_q4_k_gemm_lanes(KernelTable& t) {
  FormatKernels& k = t.fmt[format_index(QType::Q4_K)];
  k.packed_act_bytes = lanes_packed_bytes<KColBlock, BlockQ8_K>;
  k.pack_act = pack;
  k.gemm_packed = LanesGemm<Q4KLanes>::gemm;
}

}  // namespace moerun
