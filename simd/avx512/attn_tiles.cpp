// AVX-512 products of attention's online tiles (float_ops.h attn_scores_f32,
// attn_values_f32), with the softmax between them left to the xsimd ops.
//
// Scores: lanes are 16 query rows (the queries come transposed), so per d
// one load of each row group and a broadcast of each key's element feed the
// fmas, and a key's 16 scores leave as one store; no score is summed across
// lanes. Up to 2 row groups x 8 keys share the loads (16 of 32 registers
// of sums). While the first row groups run over a block of keys they
// prefetch the next block's rows, a line per key every 16 elements: a
// decode step reads its keys from memory once, and without the prefetch it
// waits on them (a stand-alone test streaming 27 layers x 1088 keys x 576
// floats, 1 thread, Zen 5: 47 GMAC/s without, 68 with; the row-major tiles
// before, 25).
//
// A tile of at most 8 rows (GQA decode: one token's query heads of one KV
// head) would leave lanes empty, so there (head size a multiple of 16) a
// vector holds R = 16 / P rows x P consecutive elements of d: the key's P
// elements broadcast as a group (vbroadcastsd for P = 2), the P partial
// sums of a row added at the end: half the vector operations per score of
// half-empty vectors (bench_attention,
// Qwen3-30B-A3B's 8 rows x 128 at 1100 keys, 1 thread: 17.8-19.0 -> 13.2-15.8
// ms, single runs on a busy host).
//
// Values: o[i][d] += p[j][i] v[j][d], lanes along d; 8 rows x 2 vectors of
// o per tile, the d chunks outermost so a chunk of each value row stays in
// L1 while every row group takes it.
//
// GCC 12 flags a deliberately undefined vector in its AVX-512 headers
// (_mm512_set1_pd, _mm512_broadcast_*); the value never reaches a result.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "simd/avx512/avx512.h"

namespace moerun {
namespace {

constexpr int kKeys = 8;  // keys per block

// What a block prefetches while it runs: the next block's key rows and
// (GQA, values as long as keys) its own value rows, a line per row every 16
// elements of d.
struct Ahead {
  const float* rows[2 * kKeys];
  int n = 0;
};

// Line d of each of n rows. The block kernels take the rows as a plain
// pointer and count: handed the struct, GCC 12 kept their sums in memory.
[[gnu::always_inline]] inline void prefetch_rows(const float* const* rows, int n, int64_t d) {
  for (int i = 0; i < n; ++i) _mm_prefetch(reinterpret_cast<const char*>(rows[i] + d), _MM_HINT_T0);
}

// Rows [0, 16 * RG) of qt against NK keys; prefetches line d of the n_pf
// rows pf at every 16th d.
template <int RG, int NK>
void score_block(const float* qt, int64_t ldt, const float* const* k, int64_t D, float* st, const float* const* pf,
                 int n_pf) {
  __m512 acc[RG][NK];
  for (auto& row : acc)
    for (__m512& a : row) a = _mm512_setzero_ps();
  for (int64_t d = 0; d < D; ++d) {
    if ((d & 15) == 0) prefetch_rows(pf, n_pf, d);
    __m512 q[RG];
    for (int r = 0; r < RG; ++r) q[r] = _mm512_loadu_ps(qt + d * ldt + 16 * r);
    for (int j = 0; j < NK; ++j) {
      const __m512 b = _mm512_set1_ps(k[j][d]);
      for (int r = 0; r < RG; ++r) acc[r][j] = _mm512_fmadd_ps(q[r], b, acc[r][j]);
    }
  }
  for (int j = 0; j < NK; ++j)
    for (int r = 0; r < RG; ++r) _mm512_storeu_ps(st + j * ldt + 16 * r, acc[r][j]);
}

template <int RG>
void score_keys(const float* qt, int64_t ldt, const float* const* k, int64_t nk, int64_t D, float* st,
                const float* const* pf, int n_pf) {
  if (nk == kKeys) {
    score_block<RG, kKeys>(qt, ldt, k, D, st, pf, n_pf);
    return;
  }
  for (int64_t j = 0; j < nk; ++j) score_block<RG, 1>(qt, ldt, k + j, D, st + j * ldt, pf, j == 0 ? n_pf : 0);
}

// The prefetches of block [j, j + nk) of N keys.
Ahead ahead_of(const float* const* k, const float* const* v, int64_t D, int64_t dv, int64_t j, int64_t nk, int64_t N) {
  Ahead a;
  for (int64_t i = j + kKeys; i < std::min(N, j + 2 * kKeys); ++i) a.rows[a.n++] = k[i];
  if (v != nullptr && dv == D) {
    for (int64_t i = j; i < j + nk; ++i) a.rows[a.n++] = v[i];
  }
  return a;
}

// P consecutive floats of a key row from x, repeated over the 16 lanes.
template <int P>
__m512 broadcast_group(const float* x) {
  if constexpr (P == 1) return _mm512_set1_ps(*x);
  if constexpr (P == 2) {
    double pair;
    std::memcpy(&pair, x, sizeof pair);
    return _mm512_castpd_ps(_mm512_set1_pd(pair));
  }
  if constexpr (P == 4) return _mm512_broadcast_f32x4(_mm_loadu_ps(x));
  if constexpr (P == 8) return _mm512_broadcast_f32x8(_mm256_loadu_ps(x));
  if constexpr (P == 16) return _mm512_loadu_ps(x);
}

// Lane i * P + p's sum added over its group of P: each row's score in the
// group's first lane, then gathered into lanes 0 .. 16 / P - 1.
template <int P>
__m512 reduce_groups(__m512 a) {
  if constexpr (P >= 2) a = _mm512_add_ps(a, _mm512_permute_ps(a, 0xB1));
  if constexpr (P >= 4) a = _mm512_add_ps(a, _mm512_permute_ps(a, 0x4E));
  if constexpr (P >= 8) a = _mm512_add_ps(a, _mm512_shuffle_f32x4(a, a, 0xB1));
  if constexpr (P >= 16) a = _mm512_add_ps(a, _mm512_shuffle_f32x4(a, a, 0x4E));
  const __m512i first = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(P));
  return _mm512_permutexvar_ps(_mm512_and_si512(first, _mm512_set1_epi32(15)), a);
}

// NK keys against the packed queries q2 (D / P groups of P elements of d,
// 16 floats each).
template <int P, int NK>
void packed_block(const float* q2, int64_t D, const float* const* k, float* st, int64_t ldt, const float* const* pf,
                  int n_pf) {
  __m512 acc[NK];
  for (__m512& a : acc) a = _mm512_setzero_ps();
  for (int64_t g = 0; g < D / P; ++g) {
    if ((g * P & 15) == 0) prefetch_rows(pf, n_pf, g * P);
    const __m512 q = _mm512_loadu_ps(q2 + g * 16);
    for (int j = 0; j < NK; ++j) acc[j] = _mm512_fmadd_ps(q, broadcast_group<P>(k[j] + g * P), acc[j]);
  }
  for (int j = 0; j < NK; ++j) _mm512_storeu_ps(st + j * ldt, reduce_groups<P>(acc[j]));
}

// D a multiple of 16 (every head size in use), so every group is whole.
template <int P>
void scores_packed(const float* qt, int64_t ldt, const float* const* k, int64_t N, int64_t D, float* st,
                   const float* const* v, int64_t dv) {
  constexpr int R = 16 / P;  // rows per vector
  thread_local std::vector<float> q2;
  q2.resize(D * R);  // every element written below
  for (int64_t d = 0; d < D; ++d) {
    for (int i = 0; i < R; ++i) q2[(d / P) * 16 + i * P + d % P] = qt[d * ldt + i];
  }
  for (int64_t j = 0; j < N; j += kKeys) {
    const int64_t nk = std::min<int64_t>(kKeys, N - j);
    const Ahead ahead = ahead_of(k, v, D, dv, j, nk, N);
    if (nk == kKeys) {
      packed_block<P, kKeys>(q2.data(), D, k + j, st + j * ldt, ldt, ahead.rows, ahead.n);
    } else {
      for (int64_t jj = 0; jj < nk; ++jj) {
        packed_block<P, 1>(q2.data(), D, k + j + jj, st + (j + jj) * ldt, ldt, ahead.rows, jj == 0 ? ahead.n : 0);
      }
    }
  }
}

void scores(const float* qt, int64_t ldt, int64_t M, const float* const* k, int64_t N, int64_t D, float* st,
            const float* const* v, int64_t dv) {
  switch (D % 16 == 0 ? M : 0) {
    case 1: return scores_packed<16>(qt, ldt, k, N, D, st, v, dv);
    case 2: return scores_packed<8>(qt, ldt, k, N, D, st, v, dv);
    case 3:
    case 4: return scores_packed<4>(qt, ldt, k, N, D, st, v, dv);
    case 5:
    case 6:
    case 7:
    case 8: return scores_packed<2>(qt, ldt, k, N, D, st, v, dv);
    default: break;
  }
  const int64_t groups = (M + 15) / 16;
  for (int64_t j = 0; j < N; j += kKeys) {
    const int64_t nk = std::min<int64_t>(kKeys, N - j);
    const Ahead ahead = ahead_of(k, v, D, dv, j, nk, N);
    for (int64_t g = 0; g < groups; g += 2) {
      const int n_pf = g == 0 ? ahead.n : 0;  // the first pass brings the rows in
      const float* q = qt + 16 * g;
      float* s = st + j * ldt + 16 * g;
      if (g + 1 < groups) {
        score_keys<2>(q, ldt, k + j, nk, D, s, ahead.rows, n_pf);
      } else {
        score_keys<1>(q, ldt, k + j, nk, D, s, ahead.rows, n_pf);
      }
    }
  }
}

// o rows [0, NI) x NV vectors from element d (Masked: one vector, `tail` lanes).
template <int NI, int NV, bool Masked>
void value_tile(const float* pt, int64_t ldt, const float* const* v, int64_t d, int64_t N, float* o, int64_t ldo,
                __mmask16 tail) {
  __m512 acc[NI][NV];
  for (int i = 0; i < NI; ++i)
    for (int c = 0; c < NV; ++c)
      acc[i][c] = Masked ? _mm512_maskz_loadu_ps(tail, o + i * ldo + d) : _mm512_loadu_ps(o + i * ldo + d + 16 * c);
  for (int64_t j = 0; j < N; ++j) {
    __m512 x[NV];
    for (int c = 0; c < NV; ++c) x[c] = Masked ? _mm512_maskz_loadu_ps(tail, v[j] + d) : _mm512_loadu_ps(v[j] + d + 16 * c);
    const float* p = pt + j * ldt;
    for (int i = 0; i < NI; ++i) {
      const __m512 pv = _mm512_set1_ps(p[i]);
      for (int c = 0; c < NV; ++c) acc[i][c] = _mm512_fmadd_ps(pv, x[c], acc[i][c]);
    }
  }
  for (int i = 0; i < NI; ++i) {
    for (int c = 0; c < NV; ++c) {
      if (Masked) {
        _mm512_mask_storeu_ps(o + i * ldo + d, tail, acc[i][c]);
      } else {
        _mm512_storeu_ps(o + i * ldo + d + 16 * c, acc[i][c]);
      }
    }
  }
}

template <int NV, bool Masked>
void value_chunk(const float* pt, int64_t ldt, int64_t M, const float* const* v, int64_t d, int64_t N, float* o,
                 int64_t ldo, __mmask16 tail) {
  int64_t i = 0;
  for (; i + 8 <= M; i += 8) value_tile<8, NV, Masked>(pt + i, ldt, v, d, N, o + i * ldo, ldo, tail);
  for (; i + 4 <= M; i += 4) value_tile<4, NV, Masked>(pt + i, ldt, v, d, N, o + i * ldo, ldo, tail);
  for (; i < M; ++i) value_tile<1, NV, Masked>(pt + i, ldt, v, d, N, o + i * ldo, ldo, tail);
}

void values(const float* pt, int64_t ldt, int64_t M, const float* const* v, int64_t N, int64_t D, float* o,
            int64_t ldo) {
  int64_t d = 0;
  for (; d + 32 <= D; d += 32) value_chunk<2, false>(pt, ldt, M, v, d, N, o, ldo, 0xFFFF);
  for (; d + 16 <= D; d += 16) value_chunk<1, false>(pt, ldt, M, v, d, N, o, ldo, 0xFFFF);
  if (d < D) value_chunk<1, true>(pt, ldt, M, v, d, N, o, ldo, static_cast<__mmask16>((1u << (D - d)) - 1));
}

}  // namespace

void fill_avx512_attn_tiles(KernelTable& t) {
  t.f.attn_scores_f32 = scores;
  t.f.attn_values_f32 = values;
}

}  // namespace moerun
