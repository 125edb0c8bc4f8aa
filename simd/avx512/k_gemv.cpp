// AVX-512 VNNI decode GEMVs (one activation row) for the K-quants: Q4_K
// and Q5_K weights x Q8_K activations. GEMM tiles and the single dot stay
// in q_k.cpp; this file replaces only their GEMVs. (Q6_K has one kernel for
// all three, q6_k.cpp: it must keep ggml's float order, which the
// sub-block sums below do not.)
//
// Why a second kernel: decode must process weights as fast as memory
// delivers them, and the tile kernel spent ~50 vector uops per row per Q4_K
// super-block (twice Q4_0's per byte), most of them on the per-row scale
// and min unpacking. Here:
//   - the nibbles (plus Q5_K's fifth bit, moved into place by one 32-bit
//     rotate) meet the activation in vpdpbusd: each 4-byte lane lies in
//     one sub-block and its sum fits int16 (|4 * 63 * 128| < 2^15), so two
//     vpackssdw halve the vectors and vpdpwssd applies the sub-block
//     scales: ~12 uops per row per block instead of 4 maddubs + 4 dpwssd +
//     4 vpermw;
//   - Q4_K/Q5_K: the 12 scale bytes and both f16 super-scales of 4 rows are
//     unpacked together: the 16-byte block heads go into one zmm, byte
//     shuffles and two shifts give [sc0..7 | m0..7] per 128-bit lane (one
//     per row), ~3 uops per row; the mins term of 4 rows is one vpmaddwd
//     (mins x pair sums of the activation's bsums) into a shared float
//     accumulator, one 128-bit lane per row;
//   - everything that depends on the activation only (its bytes reordered
//     to the nibble order, the bsum pairs) is prepared once per call;
//   - the next tile's rows are prefetched, as in q_legacy_gemv.cpp.
// In cache, 1 core (bench_kernels --mb 1): Q4_K 27 -> 47 Gweights/s (Q4_0:
// 46). The integer sums are exact; only the f32 accumulation order differs
// from the scalar reference.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "quant/q4_k.h"
#include "quant/q5_k.h"
#include "quant/q8_k.h"
#include "simd/avx512/avx512.h"
#include "simd/gemv_driver.h"
#include "simd/k4_head.h"

namespace moerun {
namespace {

constexpr int kTileRows = 4;     // rows per tile (Q4_K/Q5_K: one 128-bit lane of block heads each)
constexpr int kPassBlocks = 32;  // super-blocks prepared per pass (~11 KB of stack)

inline __m512i ld(const void* p) { return _mm512_load_si512(p); }
inline __m256i ld256u(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

inline __m512i load_pair32(const int8_t* q0, const int8_t* q1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(ld256u(q0)), ld256u(q1), 1);
}

// 32-bit rotate counts that bring bit b of every byte to bit 4: (4 - b) mod
// 32, one count per 256-bit half.
inline __m512i rot_to_bit4(int b_lo, int b_hi) {
  return _mm512_inserti64x4(_mm512_set1_epi32((36 - b_lo) % 32), _mm256_set1_epi32((36 - b_hi) % 32), 1);
}

// gemv_driver.h's interface, shared by the K-quant GEMVs below: one Q8_K
// block per prepared unit.
struct KShape {
  using ActBlock = BlockQ8_K;
  static constexpr int kUnit = 1;
  static constexpr int kPassUnits = kPassBlocks;
  static constexpr int kRows = kTileRows;
};

// Q4_K/Q5_K head shuffles (k4_head.h) and permutation indices, built once.
struct K45Tables : K4HeadShuffles<4> {
  alignas(64) int16_t scale_idx[2][2][32] = {};  // [row parity][pair 01 / 23][int16 lane]
  alignas(64) int16_t dmin_idx[32] = {};         // lanes 0-15: dmin of row l/4; 16-19: d of rows 0-3
  constexpr K45Tables() {
    // vpackssdw(dot_a, dot_b) lane l: 128-bit lane c = l / 8; l % 8 < 4
    // comes from dot_a, else dot_b; dot lanes 0-7 hold one sub-block, 8-15
    // the one two further (dot 0: sub-blocks 0 | 2, 1: 1 | 3, 2: 4 | 6, 3: 5 | 7).
    for (int parity = 0; parity < 2; ++parity) {
      for (int pair = 0; pair < 2; ++pair) {
        for (int l = 0; l < 32; ++l) {
          const int sb = 4 * pair + (l % 8 < 4 ? 0 : 1) + (l / 8 < 2 ? 0 : 2);
          scale_idx[parity][pair][l] = static_cast<int16_t>(16 * parity + sb);
        }
      }
    }
    for (int l = 0; l < 16; ++l) dmin_idx[l] = static_cast<int16_t>(8 * (l / 4) + 1);
    for (int r = 0; r < 4; ++r) dmin_idx[16 + r] = static_cast<int16_t>(8 * r);
  }
};
inline constexpr K45Tables kK45Tables{};

// Q4_K and Q5_K: the same heads (d, dmin, 12 scale bytes) and nibble
// packing (qs[32c + l]: element 64c + l low, 64c + 32 + l high).
template <bool kFive>
struct K45 : KShape {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;

  // The activation of one super-block, in the order the weight nibbles come.
  struct alignas(64) Act {
    __m512i q[4];  // [elements 0-31 | 64-95], [32-63 | 96-127], [128-159 | 192-223], [160-191 | 224-255]
    __m512i pb;    // int16 bsums[2j] + bsums[2j+1], j = 0..7, in every 128-bit lane
    float d;
  };
  static void prep(const BlockQ8_K* ap, int, Act& o) {
    const BlockQ8_K& a = *ap;
    o.q[0] = load_pair32(a.qs + 0, a.qs + 64);
    o.q[1] = load_pair32(a.qs + 32, a.qs + 96);
    o.q[2] = load_pair32(a.qs + 128, a.qs + 192);
    o.q[3] = load_pair32(a.qs + 160, a.qs + 224);
    const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bsums));
    const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bsums + 8));
    o.pb = _mm512_broadcast_i32x4(_mm_hadd_epi16(b0, b1));  // |pair| <= 32 * 128
    o.d = a.d;
  }

  static constexpr const K45Tables& kT = kK45Tables;

  template <int NR>
  static void rows(const MatmulArgs& p, int64_t r0, int64_t k0, int64_t nblk, const Act* act, float* y, bool add) {
    const uint8_t* w[NR];
    tiles::tile_rows(p, r0, k0 * sizeof(Block), w);
    __m512 acc[NR];
    for (auto& v : acc) v = _mm512_setzero_ps();
    __m512 accm = _mm512_setzero_ps();  // mins term, 128-bit lane r = row r
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i bits45 = _mm512_set1_epi8(0x30);
    for (int64_t i = 0; i < nblk; ++i) {
      const Act& a = act[i];
      const size_t off = i * sizeof(Block);
      tiles::prefetch_next_tile<NR, 1>(p, r0, k0 * sizeof(Block) + off, sizeof(Block));
      // Heads of the NR blocks, one per 128-bit lane.
      auto head = [&](int r) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[r] + off)); };
      __m512i h = _mm512_zextsi128_si512(head(0));
      if constexpr (NR > 1) h = _mm512_inserti32x4(h, head(1), 1);
      if constexpr (NR > 2) h = _mm512_inserti32x4(h, head(2), 2);
      if constexpr (NR > 3) h = _mm512_inserti32x4(h, head(3), 3);
      // [sc0..7 | m0..7] per lane (block_common.h unpack_scale_min_k4).
      const __m512i lo = _mm512_mask_blend_epi8(0xF000F000F000F000ull, _mm512_shuffle_epi8(h, ld(kT.low)),
                                                _mm512_shuffle_epi8(_mm512_srli_epi16(h, 4), ld(kT.high4)));
      const __m512i top = _mm512_shuffle_epi8(_mm512_srli_epi16(h, 2), ld(kT.top2));
      const __m512i scm = _mm512_ternarylogic_epi32(lo, ld(kT.keep), _mm512_and_si512(top, bits45), 0xEA);  // a&b | c
      // f16 d and dmin of each row, times the activation scale.
      const __m512i dm16 = _mm512_permutexvar_epi16(ld(kT.dmin_idx), h);
      const __m512 dmin = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(dm16)), _mm512_set1_ps(a.d));
      alignas(16) float dd[4];
      _mm_store_ps(dd, _mm_mul_ps(_mm_cvtph_ps(_mm512_extracti32x4_epi32(dm16, 2)), _mm_set1_ps(a.d)));
      // Mins: sum_j m_j (bsum 2j + bsum 2j+1), 4 int32 partial sums per row.
      const __m512i mins = _mm512_madd_epi16(_mm512_shuffle_epi8(scm, ld(kT.mins16)), a.pb);
      accm = _mm512_fmadd_ps(_mm512_cvtepi32_ps(mins), dmin, accm);
      const __m512i s16[2] = {_mm512_cvtepu8_epi16(_mm512_castsi512_si256(scm)),
                              _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(scm, 1))};
      for (int r = 0; r < NR; ++r) {
        const Block& b = *reinterpret_cast<const Block*>(w[r] + off);
        const __m512i q0 = _mm512_loadu_si512(b.qs);
        const __m512i q1 = _mm512_loadu_si512(b.qs + 64);
        const __m512i x[4] = {q0, _mm512_srli_epi16(q0, 4), q1, _mm512_srli_epi16(q1, 4)};
        __m512i u[4];
        if constexpr (kFive) {
          // Bit 4 of element 64c + l is bit 2c of qh[l], of 64c + 32 + l bit
          // 2c + 1: u[k] needs bits (0 | 2), (1 | 3), (4 | 6), (5 | 7).
          const __m512i qh = _mm512_broadcast_i64x4(ld256u(b.qh));
          const __m512i bit4 = _mm512_set1_epi8(0x10);
          for (int k = 0; k < 4; ++k) {
            const int b0 = 4 * (k / 2) + k % 2;
            const __m512i hb = _mm512_and_si512(_mm512_rolv_epi32(qh, rot_to_bit4(b0, b0 + 2)), bit4);
            u[k] = _mm512_ternarylogic_epi32(x[k], m4, hb, 0xEA);
          }
        } else {
          for (int k = 0; k < 4; ++k) u[k] = _mm512_and_si512(x[k], m4);
        }
        const __m512i z = _mm512_setzero_si512();
        const __m512i d0 = _mm512_dpbusd_epi32(z, u[0], a.q[0]);
        const __m512i d1 = _mm512_dpbusd_epi32(z, u[1], a.q[1]);
        const __m512i d2 = _mm512_dpbusd_epi32(z, u[2], a.q[2]);
        const __m512i d3 = _mm512_dpbusd_epi32(z, u[3], a.q[3]);
        const __m512i& s = s16[r / 2];
        const __m512i sa = _mm512_permutexvar_epi16(ld(kT.scale_idx[r % 2][0]), s);
        const __m512i sb = _mm512_permutexvar_epi16(ld(kT.scale_idx[r % 2][1]), s);
        const __m512i isum = _mm512_dpwssd_epi32(_mm512_madd_epi16(_mm512_packs_epi32(d0, d1), sa),
                                                 _mm512_packs_epi32(d2, d3), sb);
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(dd[r]), acc[r]);
      }
    }
    alignas(64) float m[16];
    _mm512_store_ps(m, accm);
    for (int r = 0; r < NR; ++r) {
      const float s = _mm512_reduce_add_ps(acc[r]) - (m[4 * r] + m[4 * r + 1] + m[4 * r + 2] + m[4 * r + 3]);
      y[r0 + r] = add ? y[r0 + r] + s : s;
    }
  }
};

}  // namespace

void fill_avx512_k_gemv(KernelTable& t) {
  FormatKernels& q4 = t.fmt[format_index(QType::Q4_K)];
  FormatKernels& q5 = t.fmt[format_index(QType::Q5_K)];
  q4.gemv = tiles::gemv_passes<K45<false>>;
  q5.gemv = tiles::gemv_passes<K45<true>>;
  tiles::FewColsGemm<K45<false>>::install(q4);
  tiles::FewColsGemm<K45<true>>::install(q5);
}

}  // namespace moerun
