// AVX-512 VNNI GEMM for Q4_0, Q5_0 and Q8_0 weights x Q8_0 activations when there
// are many activation rows (prefill, the busier MoE experts): activations
// packed once per matmul with 16 columns across the lanes of a zmm, weights
// broadcast 4 bytes at a time.
//
// Why: each Q4_0/Q8_0 block (32 weights) carries its own scale, so every
// (weight row, column, block) costs a float multiply-add next to its integer
// dot product. With a row's blocks across the lanes (q_legacy_gemm.cpp) that
// is 2 vpdpbusd per cvt + mul + fma; vpdpbusd, vmulps and vfmadd share the
// two multiply pipes of the cores these run on, so at most half of their
// cycles went to dot products (~52% of the vpdpbusd peak measured). Here a
// lane is a column: a block of one row against 16 columns is 8 vpdpbusd
// (32 weights x 16 columns) and one cvt + mul + fma for all 16 columns, and
// each broadcast weight word serves 16 columns, so ~80% of those cycles are
// dot products.
//
// Layout:
//   - activations (pack): per group of 16 columns and per block, 8 slots of
//     16 columns x 4 levels in element order, each column's level sum and
//     its scale; missing columns of the last group are zeros;
//   - weights: a tile of up to 8 rows x 64 blocks is unpacked into a stack
//     buffer of unsigned bytes in element order (Q4_0: the nibbles,
//     u = q + 8; Q8_0: u = q ^ 0x80 = q + 128) once, and used by every
//     column group;
//     sum(q a) = sum(u a) - offset * sum(a) starts each block's dot.
// Exactness: per lane a block adds 32 products |u a| <= 255 * 127 and
// starts at |offset * sum(a)| <= 128 * 32 * 127, below 2^24 in total, so
// the int32 dot and its conversion to float are exact.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "quant/block_common.h"
#include "quant/q4_0.h"
#include "quant/q5_0.h"
#include "quant/q8_0.h"
#include "simd/avx512/avx512.h"
#include "simd/avx512/packed_gemm.h"

namespace moerun {
namespace {

constexpr int kSlots = 8;  // 4-level slots per 32-level block, in element order

struct LegacyPacked {
  int8_t q[kSlots][kLanes][4];
  int32_t sum[kLanes];
  float d[kLanes];
};
static_assert(sizeof(LegacyPacked) == 640);

size_t packed_bytes(int64_t B, int64_t K) {
  return static_cast<size_t>((B + kLanes - 1) / kLanes) * static_cast<size_t>(K / BlockQ8_0::kSize) *
         sizeof(LegacyPacked);
}

void pack(const uint8_t* a, size_t a_stride, int64_t B, int64_t K, int64_t g0, int64_t g1, uint8_t* out) {
  pack_groups<LegacyPacked, BlockQ8_0>(a, a_stride, B, K / BlockQ8_0::kSize, g0, g1, out,
                                       [](LegacyPacked& p, int c, const BlockQ8_0& blk) {
                                         int32_t sum = 0;
                                         for (int8_t q : blk.qs) sum += q;
                                         for (int s = 0; s < kSlots; ++s) std::memcpy(p.q[s][c], blk.qs + 4 * s, 4);
                                         p.sum[c] = sum;
                                         p.d[c] = _cvtsh_ss(blk.d);
                                       });
}

constexpr int kLegacyPassBlocks = 64;  // 8 rows x 64 blocks x 32 B: 16 KB of stack

// Unpacked weights of one pass: per row, per block, 32 unsigned bytes in
// slot order, and the block's scale.
struct LegacyPass {
  alignas(64) uint8_t u[kMaxRows][kLegacyPassBlocks][32];
  float d[kMaxRows][kLegacyPassBlocks];
};

// Q4_0: u = the nibble = q + 8; the low nibbles are elements 0-15, the
// high ones 16-31.
struct UQ4_0 {
  using Block = BlockQ4_0;
  static constexpr int kShift = 3;  // offset 8
  static void unpack(const Block& b, uint8_t* u, float& d) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
    const __m128i m4 = _mm_set1_epi8(0x0F);
    _mm_store_si128(reinterpret_cast<__m128i*>(u), _mm_and_si128(q, m4));
    _mm_store_si128(reinterpret_cast<__m128i*>(u + 16), _mm_and_si128(_mm_srli_epi16(q, 4), m4));
    d = _cvtsh_ss(b.d);
  }
};

// Q5_0: u = the nibble + 16 * (bit j of qh) = q + 16 (bits 0-15 go with
// the low nibbles, 16-31 with the high ones).
struct UQ5_0 {
  using Block = BlockQ5_0;
  static constexpr int kShift = 4;  // offset 16
  static void unpack(const Block& b, uint8_t* u, float& d) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
    const __m128i m4 = _mm_set1_epi8(0x0F);
    const __m128i bit4 = _mm_set1_epi8(0x10);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    const __m128i lo = _mm_and_si128(q, m4);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(q, 4), m4);
    _mm_store_si128(reinterpret_cast<__m128i*>(u), _mm_mask_add_epi8(lo, static_cast<__mmask16>(qh), lo, bit4));
    _mm_store_si128(reinterpret_cast<__m128i*>(u + 16),
                    _mm_mask_add_epi8(hi, static_cast<__mmask16>(qh >> 16), hi, bit4));
    d = _cvtsh_ss(b.d);
  }
};

// Q8_0: u = q ^ 0x80 = q + 128.
struct UQ8_0 {
  using Block = BlockQ8_0;
  static constexpr int kShift = 7;  // offset 128
  static void unpack(const Block& b, uint8_t* u, float& d) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
    _mm256_store_si256(reinterpret_cast<__m256i*>(u), _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80))));
    d = _cvtsh_ss(b.d);
  }
};

template <class U>
struct LegacyKern {
  using Block = typename U::Block;
  using PackedBlock = LegacyPacked;
  using WeightPass = LegacyPass;
  static constexpr int kPassBlocks = kLegacyPassBlocks;

  static void unpack(const Block* row, int nbp, int r, WeightPass& w) {
    for (int j = 0; j < nbp; ++j) U::unpack(row[j], w.u[r][j], w.d[r][j]);
  }

  template <int NR>
  static void tile(const WeightPass& w, int nbp, const PackedBlock* act, __m512 (&acc)[kMaxRows]) {
    for (int j = 0; j < nbp; ++j) {
      const PackedBlock& a = act[j];
      const __m512i init = _mm512_sub_epi32(_mm512_setzero_si512(),
                                            _mm512_slli_epi32(_mm512_loadu_si512(a.sum), U::kShift));
      // Two chains per row (even and odd slots), added at the end: with one,
      // the 8 dependent vpdpbusd of a block held the rows to their latency.
      // Integer sums, so the order changes nothing.
      __m512i dot[NR], dot2[NR];
      for (int r = 0; r < NR; ++r) {
        dot[r] = init;
        dot2[r] = _mm512_setzero_si512();
      }
#pragma GCC unroll 8
      for (int s = 0; s < kSlots; ++s) {
        const __m512i av = _mm512_loadu_si512(a.q[s]);
        for (int r = 0; r < NR; ++r) {
          int32_t word;
          std::memcpy(&word, w.u[r][j] + 4 * s, 4);
          if (s % 2 == 0) {
            dot[r] = _mm512_dpbusd_epi32(dot[r], _mm512_set1_epi32(word), av);
          } else {
            dot2[r] = _mm512_dpbusd_epi32(dot2[r], _mm512_set1_epi32(word), av);
          }
        }
      }
      for (int r = 0; r < NR; ++r) dot[r] = _mm512_add_epi32(dot[r], dot2[r]);
      const __m512 da = _mm512_loadu_ps(a.d);
      for (int r = 0; r < NR; ++r) {
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r]), _mm512_mul_ps(da, _mm512_set1_ps(w.d[r][j])), acc[r]);
      }
    }
  }
};

}  // namespace

void fill_avx512_legacy_gemm_packed(KernelTable& t) {
  for (QType q : {QType::Q4_0, QType::Q5_0, QType::Q8_0}) {
    FormatKernels& k = t.fmt[format_index(q)];
    k.packed_act_bytes = packed_bytes;
    k.pack_act = pack;
  }
  t.fmt[format_index(QType::Q4_0)].gemm_packed = PackedGemm<LegacyKern<UQ4_0>>::gemm;
  t.fmt[format_index(QType::Q5_0)].gemm_packed = PackedGemm<LegacyKern<UQ5_0>>::gemm;
  t.fmt[format_index(QType::Q8_0)].gemm_packed = PackedGemm<LegacyKern<UQ8_0>>::gemm;
}

}  // namespace moerun
