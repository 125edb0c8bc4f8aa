// AVX-512 VNNI GEMM for Q4_0, Q5_0 and Q8_0 weights x Q8_0 activations when
// there are many activation rows (prefill, the busier MoE experts), with
// weight rows across the lanes: a zmm holds 4 weight bytes of each of 16
// rows, and one activation word (4 bytes of one column) is broadcast to
// them.
//
// Why rows in lanes: every 4 weight bytes of 16 rows are loaded once per
// 6 columns and each column's broadcast serves 32 rows (two vectors), so a
// vpdpbusd costs ~0.6 loads. With columns in the lanes and each row's
// weights broadcast (the layout before this one), every vpdpbusd needed a
// separate broadcast load and the tile ran at ~5 vpdpbusd per ns on Zen 5,
// against ~9.5 from registers; this one runs ~5.6 in cache, the rest of
// the gap being each block's float epilogue (convert, scale, add: 3 vector
// ops per 8 vpdpbusd on the same pipes). Whole GEMM, Q4_0 4096 x 2048, 2
// threads, alternating: B = 48 790-837 -> 973-1015 GOP/s, B = 128
// 838-901 -> 1013-1073, B = 16 unchanged (the transposing unpack is paid
// once per 32 rows and pass, whatever B).
//
// Layout:
//   - activations (pack): per column, per block, its 32 signed levels, its
//     scale and -(offset x sum of its levels), contiguous per column;
//   - weights: each tile of 32 rows x one pass of blocks is transposed into
//     a stack buffer, block by block (128-bit row loads and two permute
//     steps; one gather for the scales), as 8 vectors of 16 rows x 4 unsigned
//     bytes (u = q + offset: Q4_0 the nibble, Q5_0 the nibble + 16 x its
//     high bit, Q8_0 q ^ 0x80) and a vector of the 16 rows' scales; every
//     column of the call runs against that buffer before the next pass.
// The sums are those of the packed kernel before (an exact int32 dot per
// block, then acc = fma(float(dot), d_w x d_a, acc), blocks in order), so
// the floats did not change; Q8_0 runs the scalar reference's unfused
// multiply and add instead, bit-identical to it (q8_0_exact.cpp), which
// from 16 columns is ~1.5x q8_0_exact's own GEMM (bench_kernels, 2
// threads, K 2048, B 48-512: 547-700 -> 864-1133 GOP/s). Exactness: per lane a block adds 32 products
// |u a| <= 255 * 127 and starts at |offset * sum(a)| <= 128 * 32 * 127,
// below 2^24 in total, so the int32 dot and its conversion are exact.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstddef>
#include <cstring>

#include "quant/block_common.h"
#include "quant/q4_0.h"
#include "quant/q5_0.h"
#include "quant/q8_0.h"
#include "simd/avx512/avx512.h"
#include "simd/avx512/lanes_gemm.h"

namespace moerun {
namespace {

// One column's block: levels, scale, and -(offset x their sum), the start
// of the block's dot (sum(q a) = sum(u a) - offset x sum(a)).
struct ColBlock {
  int8_t q[32];
  float d;
  int32_t bias;
};
static_assert(sizeof(ColBlock) == 40);

// One block of 16 weight rows: 8 vectors of 4 unsigned levels per row (in
// element order) and the rows' scales.
struct RowBlock {
  __m512i u[8];
  __m512 d;
};

template <int Shift>
void pack(const uint8_t* a, size_t a_stride, int64_t B, int64_t K, int64_t g0, int64_t g1, uint8_t* out) {
  lanes_pack<ColBlock, BlockQ8_0>(a, a_stride, B, K, g0, g1, out, [](ColBlock& o, const BlockQ8_0& b) {
    int32_t sum = 0;
    for (int8_t q : b.qs) sum += q;
    std::memcpy(o.q, b.qs, sizeof(o.q));
    o.d = _cvtsh_ss(b.d);
    o.bias = -sum * (1 << Shift);
  });
}

// The 16 rows' scales: the f16 leading each block.
inline __m512 block_scales(const Rows16& g, const uint8_t* b) {
  return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g.dword(b, 0)));
}

// Q4_0: qs word s holds elements 4s..4s+3 in its low nibbles and
// 16+4s..16+4s+3 in its high ones.
struct UQ4_0 {
  using Block = BlockQ4_0;
  static constexpr int kShift = 3;  // offset 8
  static void unpack(const Rows16& g, const uint8_t* b, RowBlock& o) {
    __m512i x[4];
    g.words4(b, offsetof(Block, qs), x);
    for (int s = 0; s < 4; ++s) {
      o.u[s] = low_nibbles(x[s]);
      o.u[s + 4] = high_nibbles(x[s]);
    }
    o.d = block_scales(g, b);
  }
};

// Q5_0: as Q4_0, plus 16 where bit e of qh is set for element e.
struct UQ5_0 {
  using Block = BlockQ5_0;
  static constexpr int kShift = 4;  // offset 16
  // Bits 0-3 of x to bit 4 of bytes 0-3.
  static __m512i spread(__m512i x) {
    const __m512i one = _mm512_set1_epi32(1);
    __m512i r = _mm512_slli_epi32(_mm512_and_si512(x, one), 4);
    r = _mm512_or_si512(r, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(x, 1), one), 12));
    r = _mm512_or_si512(r, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(x, 2), one), 20));
    return _mm512_or_si512(r, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(x, 3), one), 28));
  }
  static void unpack(const Rows16& g, const uint8_t* b, RowBlock& o) {
    const __m512i qh = g.dword(b, offsetof(Block, qh));
    __m512i x[4];
    g.words4(b, offsetof(Block, qs), x);
    for (int s = 0; s < 4; ++s) {
      o.u[s] = _mm512_add_epi8(low_nibbles(x[s]), spread(_mm512_srli_epi32(qh, 4 * s)));
      o.u[s + 4] = _mm512_add_epi8(high_nibbles(x[s]), spread(_mm512_srli_epi32(qh, 16 + 4 * s)));
    }
    o.d = block_scales(g, b);
  }
};

// Q8_0: u = q ^ 0x80 = q + 128.
struct UQ8_0 {
  using Block = BlockQ8_0;
  static constexpr int kShift = 7;  // offset 128
  static void unpack(const Rows16& g, const uint8_t* b, RowBlock& o) {
    for (int h = 0; h < 2; ++h) {
      __m512i x[4];
      g.words4(b, offsetof(Block, qs) + 16 * h, x);
      for (int s = 0; s < 4; ++s) o.u[4 * h + s] = _mm512_xor_si512(x[s], _mm512_set1_epi8(static_cast<char>(0x80)));
    }
    o.d = block_scales(g, b);
  }
};

// Exact: each block in the scalar reference's own operations (quant/q8_0.h:
// sum + sumi * (dw * da), a multiply then an add, no fused rounding), for
// the formats whose AVX-512 kernels agree with it to the last bit (Q8_0:
// q8_0_exact.cpp); otherwise one fused multiply-add per block.
template <class U, bool Exact = false>
struct LegacyLanes {
  using Block = typename U::Block;
  using RowBlock = moerun::RowBlock;
  using ColBlock = moerun::ColBlock;
  static constexpr int kMaxCols = 6;      // 2 x 6 dot + 2 x 6 float sums in registers
  static constexpr int kPassBlocks = 32;  // 2 x 32 x 576 B = 36 KB, inside L1 (16 and 64 measured no faster)
  static void unpack(const Rows16& g, const uint8_t* b, RowBlock& o) { U::unpack(g, b, o); }

  // nb: blocks per column; part: running sums.
  template <int G, int C>
  static void tile(const RowBlock* const (&w)[kGroups], int nbp, const ColBlock* a, int64_t nb, float* part) {
    __m512 acc[G][C];
    load_sums(part, acc);
    for (int j = 0; j < nbp; ++j) {
      __m512i dot[G][C];
      const __m512i* wu[G];
      const int8_t* q[C];
      for (int g = 0; g < G; ++g) wu[g] = w[g][j].u;
      for (int c = 0; c < C; ++c) {
        q[c] = a[c * nb + j].q;
        const __m512i bias = _mm512_set1_epi32(a[c * nb + j].bias);
        for (int g = 0; g < G; ++g) dot[g][c] = bias;
      }
      dot32(wu, q, dot);
      for (int c = 0; c < C; ++c) {
        const __m512 da = _mm512_set1_ps(a[c * nb + j].d);
        for (int g = 0; g < G; ++g) {
          const __m512 scale = _mm512_mul_ps(w[g][j].d, da);
          if constexpr (Exact) {
            acc[g][c] = _mm512_add_ps(acc[g][c], _mm512_mul_ps(_mm512_cvtepi32_ps(dot[g][c]), scale));
          } else {
            acc[g][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[g][c]), scale, acc[g][c]);
          }
        }
      }
    }
    store_sums(part, acc);
  }
};

}  // namespace

void fill_avx512_legacy_gemm_lanes(KernelTable& t) {
  FormatKernels& q4 = t.fmt[format_index(QType::Q4_0)];
  q4.packed_act_bytes = lanes_packed_bytes<ColBlock, BlockQ8_0>;
  q4.pack_act = pack<UQ4_0::kShift>;
  q4.gemm_packed = LanesGemm<LegacyLanes<UQ4_0>>::gemm;
  FormatKernels& q5 = t.fmt[format_index(QType::Q5_0)];
  q5.packed_act_bytes = lanes_packed_bytes<ColBlock, BlockQ8_0>;
  q5.pack_act = pack<UQ5_0::kShift>;
  q5.gemm_packed = LanesGemm<LegacyLanes<UQ5_0>>::gemm;
}

void fill_avx512_q8_0_exact_lanes(KernelTable& t) {
  FormatKernels& q8 = t.fmt[format_index(QType::Q8_0)];
  q8.packed_act_bytes = lanes_packed_bytes<ColBlock, BlockQ8_0>;
  q8.pack_act = pack<UQ8_0::kShift>;
  q8.gemm_packed = LanesGemm<LegacyLanes<UQ8_0, true>>::gemm;
}

}  // namespace moerun
