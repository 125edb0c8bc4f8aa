// AVX-512 VNNI GEMM for Q4_K weights x Q8_K activations with many activation
// rows (prefill of Q4_K_M files, the busier MoE experts), on the packed-
// column scheme of q_legacy_gemm_packed.cpp (walk: packed_gemm.h): 16
// activation columns across the lanes of a zmm, weights broadcast 4 levels at
// a time, so a 32-weight sub-block of one row against 16 columns is 8
// vpdpbusd.
//
// Per super-block (256 weights) and row: the 8 sub-block dots are scaled by
// their 6-bit scales in float (one cvt + fma each; the products stay below
// 2^22, so exact, and their sum below 2^25), the mins term
// sum_j m_j * sum(a over sub-block j) is 4 vpdpwssd of (m_2i, m_2i+1) pairs
// against the packed sub-block sums, and both are scaled once:
// d * d_a * sum - dmin * d_a * mins, in the scalar reference's order.
//
// Layout: activations per column group and super-block: 64 slots of 16
// columns x 4 levels (element order), the sub-block sums in int16 pairs, the
// scales; weights of a tile (8 rows x 8 super-blocks) unpacked into a stack
// buffer of nibbles in element order, with float scales and int16-pair mins.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "quant/block_common.h"
#include "quant/q4_k.h"
#include "quant/q8_k.h"
#include "simd/avx512/avx512.h"
#include "simd/avx512/packed_gemm.h"

namespace moerun {
namespace {

constexpr int kSlots = BlockQ8_K::kSize / 4;  // 64
constexpr int kSub = 8;                       // 32-weight sub-blocks per super-block
constexpr int kPassSuper = 8;                 // super-blocks per pass: 8 rows x 8 x 256 B = 16 KB

struct KPacked {
  int8_t q[kSlots][kLanes][4];
  int16_t bs[kSub / 2][kLanes][2];  // (sum of sub-block 2i, of 2i+1) per column
  float d[kLanes];
};
static_assert(sizeof(KPacked) == 4416);

size_t packed_bytes(int64_t B, int64_t K) {
  return static_cast<size_t>((B + kLanes - 1) / kLanes) * static_cast<size_t>(K / BlockQ8_K::kSize) *
         sizeof(KPacked);
}

void pack(const uint8_t* a, size_t a_stride, int64_t B, int64_t K, int64_t g0, int64_t g1, uint8_t* out) {
  pack_groups<KPacked, BlockQ8_K>(a, a_stride, B, K / BlockQ8_K::kSize, g0, g1, out,
                                  [](KPacked& p, int c, const BlockQ8_K& blk) {
                                    for (int s = 0; s < kSlots; ++s) std::memcpy(p.q[s][c], blk.qs + 4 * s, 4);
                                    for (int i = 0; i < kSub / 2; ++i) {
                                      p.bs[i][c][0] = static_cast<int16_t>(blk.bsums[4 * i] + blk.bsums[4 * i + 1]);
                                      p.bs[i][c][1] = static_cast<int16_t>(blk.bsums[4 * i + 2] + blk.bsums[4 * i + 3]);
                                    }
                                    p.d[c] = blk.d;
                                  });
}

struct KPass {
  alignas(64) uint8_t u[kMaxRows][kPassSuper][BlockQ4_K::kSize];  // levels 0..15 in element order
  float sc[kMaxRows][kPassSuper][kSub];
  int32_t mins[kMaxRows][kPassSuper][kSub / 2];  // (m_2i | m_2i+1 << 16)
  float d[kMaxRows][kPassSuper], dmin[kMaxRows][kPassSuper];
};

struct Q4KKern {
  using Block = BlockQ4_K;
  using PackedBlock = KPacked;
  using WeightPass = KPass;
  static constexpr int kPassBlocks = kPassSuper;

  static void unpack(const Block* row, int nbp, int r, WeightPass& w) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int j = 0; j < nbp; ++j) {
      const Block& b = row[j];
      uint8_t* u = w.u[r][j];
      // Per 64 elements, 32 bytes: element l in the low nibble, l + 32 high.
      for (int g = 0; g < 4; ++g) {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * g));
        _mm256_store_si256(reinterpret_cast<__m256i*>(u + 64 * g), _mm256_and_si256(q, m4));
        _mm256_store_si256(reinterpret_cast<__m256i*>(u + 64 * g + 32),
                           _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
      }
      uint8_t sc[kSub], mn[kSub];
      for (int s = 0; s < kSub; ++s) unpack_scale_min_k4(s, b.scales, &sc[s], &mn[s]);
      for (int s = 0; s < kSub; ++s) w.sc[r][j][s] = sc[s];
      for (int i = 0; i < kSub / 2; ++i) w.mins[r][j][i] = int32_t{mn[2 * i]} | (int32_t{mn[2 * i + 1]} << 16);
      w.d[r][j] = _cvtsh_ss(b.d);
      w.dmin[r][j] = _cvtsh_ss(b.dmin);
    }
  }

  template <int NR>
  static void tile(const WeightPass& w, int nbp, const PackedBlock* act, __m512 (&acc)[kMaxRows]) {
    for (int j = 0; j < nbp; ++j) {
      const PackedBlock& a = act[j];
      __m512 sum[NR];
      for (int r = 0; r < NR; ++r) sum[r] = _mm512_setzero_ps();
      for (int sb = 0; sb < kSub; ++sb) {
        __m512i dot[NR];
        for (int r = 0; r < NR; ++r) dot[r] = _mm512_setzero_si512();
#pragma GCC unroll 8
        for (int s = 0; s < 8; ++s) {
          const __m512i av = _mm512_loadu_si512(a.q[8 * sb + s]);
          for (int r = 0; r < NR; ++r) {
            int32_t word;
            std::memcpy(&word, w.u[r][j] + 32 * sb + 4 * s, 4);
            dot[r] = _mm512_dpbusd_epi32(dot[r], _mm512_set1_epi32(word), av);
          }
        }
        for (int r = 0; r < NR; ++r) {
          sum[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r]), _mm512_set1_ps(w.sc[r][j][sb]), sum[r]);
        }
      }
      __m512i mins[NR];
      for (int r = 0; r < NR; ++r) mins[r] = _mm512_setzero_si512();
      for (int i = 0; i < kSub / 2; ++i) {
        const __m512i bs = _mm512_loadu_si512(a.bs[i]);
        for (int r = 0; r < NR; ++r) mins[r] = _mm512_dpwssd_epi32(mins[r], _mm512_set1_epi32(w.mins[r][j][i]), bs);
      }
      const __m512 da = _mm512_loadu_ps(a.d);
      for (int r = 0; r < NR; ++r) {
        acc[r] = _mm512_fmadd_ps(sum[r], _mm512_mul_ps(_mm512_set1_ps(w.d[r][j]), da), acc[r]);
        acc[r] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(mins[r]), _mm512_mul_ps(_mm512_set1_ps(w.dmin[r][j]), da), acc[r]);
      }
    }
  }
};

}  // namespace

void fill_avx512_q4_k_gemm_packed(KernelTable& t) {
  FormatKernels& k = t.fmt[format_index(QType::Q4_K)];
  k.packed_act_bytes = packed_bytes;
  k.pack_act = pack;
  k.gemm_packed = PackedGemm<Q4KKern>::gemm;
}

}  // namespace moerun
