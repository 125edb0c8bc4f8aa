// AVX-512 VNNI decode GEMV (one activation row) for Q4_K weights x Q8_K
// activations. GEMM tiles and the single dot stay in q_k.cpp; this file
// replaces only their GEMV.
//
// Why a second kernel: decode must process Q4_K as fast as memory delivers
// it, and the tile kernel spent ~50 vector uops per row per super-block
// (twice Q4_0's per byte), most of them on the per-row scale and min
// unpacking. Here:
//   - the 12 scale bytes and both f16 super-scales of 4 rows are unpacked
//     together: the 16-byte block heads go into one zmm, byte shuffles and
//     two shifts give [sc0..7 | m0..7] per 128-bit lane (one per row), so
//     the 6-bit unpacking costs ~3 uops per row;
//   - the nibbles meet the activation in vpdpbusd (each 4-byte lane lies in
//     one 32-element sub-block, its sum fits int16: |4 * 15 * 128| < 2^15),
//     two vpackssdw halve the vectors, and vpdpwssd applies the sub-block
//     scales: 12 uops per row instead of 4 maddubs + 4 dpwssd + 4 vpermw on
//     unpacked scales;
//   - the mins term of 4 rows is one vpmaddwd (mins x pair sums of the
//     activation's bsums, prepared once per call) into a shared float
//     accumulator, one 128-bit lane per row;
//   - everything that depends on the activation only (its bytes reordered
//     to the nibble order, the bsum pairs) is prepared once per call;
//   - the next tile's rows are prefetched, as in q_legacy_gemv.cpp.
// The integer sums are exact; only the f32 accumulation order differs from
// the scalar reference.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "quant/q4_k.h"
#include "quant/q8_k.h"
#include "simd/avx512/avx512.h"
#include "simd/tile_driver.h"

namespace moerun {
namespace {

constexpr int kRows = 4;          // rows per tile: one 128-bit lane of block heads each
constexpr int kPassBlocks = 32;   // super-blocks prepared per pass (~11 KB of stack)

// The activation of one super-block, in the order the weight nibbles come.
struct alignas(64) Act {
  __m512i q[4];  // [elements 0-31 | 64-95], [32-63 | 96-127], [128-159 | 192-223], [160-191 | 224-255]
  __m512i pb;    // int16 bsums[2j] + bsums[2j+1], j = 0..7, in every 128-bit lane
  float d;
};

inline __m512i load_pair32(const int8_t* q0, const int8_t* q1) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q0))),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q1)), 1);
}

void prep(const BlockQ8_K& a, Act& o) {
  o.q[0] = load_pair32(a.qs + 0, a.qs + 64);
  o.q[1] = load_pair32(a.qs + 32, a.qs + 96);
  o.q[2] = load_pair32(a.qs + 128, a.qs + 192);
  o.q[3] = load_pair32(a.qs + 160, a.qs + 224);
  const __m128i b0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bsums));
  const __m128i b1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a.bsums + 8));
  o.pb = _mm512_broadcast_i32x4(_mm_hadd_epi16(b0, b1));  // |pair| <= 32 * 128
  o.d = a.d;
}

// Shuffle controls and permutation indices, built once.
struct Tables {
  // Block head bytes: d 0-1, dmin 2-3, scales q[0..11] at 4..15.
  alignas(64) int8_t low[64] = {};    // [q0..3, q8..11, q4..7, -]: sc0-3, sc4-7 low bits, m0-3
  alignas(64) int8_t high4[64] = {};  // from head >> 4: q8..11 high nibbles at 12..15 (m4-7 low bits)
  alignas(64) int8_t top2[64] = {};   // from head >> 2: bits 6-7 of q0..3 at 4..7, of q4..7 at 12..15
  alignas(64) int8_t keep[64] = {};   // 6 bits for sc0-3/m0-3, 4 for the others
  alignas(64) int8_t mins16[64] = {}; // m0..7 as int16
  alignas(64) int16_t scale_idx[2][2][32] = {};  // [row parity][pair 01 / 23][int16 lane]
  alignas(64) int16_t dmin_idx[32] = {};         // lanes 0-15: dmin of row l/4; 16-19: d of rows 0-3
  constexpr Tables() {
    for (int c = 0; c < 4; ++c) {
      for (int j = 0; j < 16; ++j) {
        const int i = 16 * c + j;
        low[i] = static_cast<int8_t>(j < 4 ? 4 + j : j < 8 ? 8 + j : j < 12 ? j : -128);
        high4[i] = static_cast<int8_t>(j >= 12 ? j : -128);
        top2[i] = static_cast<int8_t>(j >= 4 && j < 8 ? j : j >= 12 ? j - 4 : -128);
        keep[i] = static_cast<int8_t>(j < 4 || (j >= 8 && j < 12) ? 0x3f : 0x0f);
        mins16[i] = static_cast<int8_t>(j % 2 == 0 ? 8 + j / 2 : -128);
      }
    }
    // vpackssdw(dot_a, dot_b) lane l: 128-bit lane c = l / 8; l % 8 < 4 comes
    // from dot_a, else dot_b; dot lanes 0-7 hold one sub-block, 8-15 the one
    // two further (dot 0: sub-blocks 0 | 2, dot 1: 1 | 3, dot 2: 4 | 6, dot 3: 5 | 7).
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
inline constexpr Tables kT{};

inline __m512i ld(const void* p) { return _mm512_load_si512(p); }

// Rows [r0, r0 + NR) over blocks [k0, k0 + nblk) of the prepared act.
template <int NR>
void rows(const MatmulArgs& p, int64_t r0, int64_t k0, int64_t nblk, const Act* act, float* y, bool add) {
  const BlockQ4_K* w[NR];
  for (int r = 0; r < NR; ++r) w[r] = reinterpret_cast<const BlockQ4_K*>(p.w + (r0 + r) * p.w_stride) + k0;
  const size_t pf = r0 + 2 * NR <= p.N ? NR * p.w_stride : 0;
  __m512 acc[NR];
  for (auto& v : acc) v = _mm512_setzero_ps();
  __m512 accm = _mm512_setzero_ps();  // mins term, 128-bit lane r = row r
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i bits45 = _mm512_set1_epi8(0x30);
  for (int64_t i = 0; i < nblk; ++i) {
    const Act& a = act[i];
    if (pf != 0) {
      for (int r = 0; r < NR; ++r) {
        const char* q = reinterpret_cast<const char*>(w[r] + i) + pf;
        _mm_prefetch(q, _MM_HINT_T1);
        _mm_prefetch(q + 64, _MM_HINT_T1);
        _mm_prefetch(q + 128, _MM_HINT_T1);
      }
    }
    // Heads of the NR blocks, one per 128-bit lane.
    __m512i h = _mm512_zextsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w[0] + i)));
    if constexpr (NR > 1) h = _mm512_inserti32x4(h, _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[1] + i)), 1);
    if constexpr (NR > 2) h = _mm512_inserti32x4(h, _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[2] + i)), 2);
    if constexpr (NR > 3) h = _mm512_inserti32x4(h, _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[3] + i)), 3);
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
      const __m512i q0 = _mm512_loadu_si512(w[r][i].qs);
      const __m512i q1 = _mm512_loadu_si512(w[r][i].qs + 64);
      const __m512i z = _mm512_setzero_si512();
      const __m512i d0 = _mm512_dpbusd_epi32(z, _mm512_and_si512(q0, m4), a.q[0]);
      const __m512i d1 = _mm512_dpbusd_epi32(z, _mm512_and_si512(_mm512_srli_epi16(q0, 4), m4), a.q[1]);
      const __m512i d2 = _mm512_dpbusd_epi32(z, _mm512_and_si512(q1, m4), a.q[2]);
      const __m512i d3 = _mm512_dpbusd_epi32(z, _mm512_and_si512(_mm512_srli_epi16(q1, 4), m4), a.q[3]);
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

void gemv(const MatmulArgs& p) {
  const int64_t nb = p.K / kSuperBlock;
  Act act[kPassBlocks];
  for (int64_t c = 0; c < p.B; ++c) {
    float* y = tiles::out_row(p, c);
    const auto* arow = reinterpret_cast<const BlockQ8_K*>(p.a + c * p.a_stride);
    for (int64_t k0 = 0; k0 < nb; k0 += kPassBlocks) {
      const int64_t nblk = std::min<int64_t>(nb - k0, kPassBlocks);
      for (int64_t j = 0; j < nblk; ++j) prep(arow[k0 + j], act[j]);
      int64_t r = 0;
      for (; r + kRows <= p.N; r += kRows) rows<kRows>(p, r, k0, nblk, act, y, k0 > 0);
      switch (p.N - r) {
        case 3: rows<3>(p, r, k0, nblk, act, y, k0 > 0); break;
        case 2: rows<2>(p, r, k0, nblk, act, y, k0 > 0); break;
        case 1: rows<1>(p, r, k0, nblk, act, y, k0 > 0); break;
        default: break;
      }
    }
  }
}

}  // namespace

void fill_avx512_q4_k_gemv(KernelTable& t) { t.fmt[format_index(QType::Q4_K)].gemv = gemv; }

}  // namespace moerun
