// Float kernels on activation rows: norms, softmax, activation functions,
// RoPE. Each call goes to the active ISA (simd/dispatch.h); the scalar
// reference is simd/scalar/float_ops.cpp.
// Kernels never allocate or throw; callers check shapes.
#pragma once

#include <cstdint>

namespace moerun {

// y = x / rms(x) * w   (w may be nullptr: no weight)
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);
// x = softmax(x), numerically stable, in ggml's order (simd/scalar/float_ops.cpp).
void softmax_inplace(float* x, int64_t n);
// out = silu(gate) * up, in ggml's order (simd/scalar/float_ops.cpp)
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
// y += x
void add_inplace(float* y, const float* x, int64_t n);
// y += a * x
void axpy(float* y, float a, const float* x, int64_t n);
// sum a[i] * b[i]
float dot_f32(const float* a, const float* b, int64_t n);

// The products and the softmax of attention's online tiles
// (core/compute/attention.cpp), with the tile's query rows as the vector
// lanes: queries come transposed (qt[d * ldt + i]) and scores and
// probabilities key-major (st[j * ldt + i]), so one vector holds one key's
// score for 16 rows and no sum runs across lanes (a row-major tile reduces
// every score across its lanes, which cost more than the products on
// AVX-512). ldt is a multiple of 16; rows [M, M rounded up to 16) are
// padding: read from qt (keep them finite), and may be written in st, m, l
// and rescale (size those for the rounded-up count). Keys and values come
// by a pointer per row (a tile's keys may come from several runs of the cache).
// st[j * ldt + i] = sum_d qt[d * ldt + i] * k[j][d]   (i < M, j < N, d < D)
// v (may be null): the value rows of the same keys, dv floats each, which a
// kernel may prefetch along the way (a hint; nothing is read from them).
void attn_scores_f32(const float* qt, int64_t ldt, int64_t M, const float* const* k, int64_t N, int64_t D, float* st,
                     const float* const* v, int64_t dv);
// o[i * ldo + d] += sum_j st[j * ldt + i] * v[j][d]   (i < M, j < N, d < D)
void attn_values_f32(const float* st, int64_t ldt, int64_t M, const float* const* v, int64_t N, int64_t D, float* o,
                     int64_t ldo);
// One block of an online softmax for rows i < M over the N keys of st
// (-inf where masked), with running max m[i] and sum l[i] (start: -inf, 0):
// mx = max(m[i], max_j st_ji); rescale[i] = exp(m[i] - mx) (1 while both are
// -inf); st_ji = exp(st_ji - mx); l[i] = l[i] * rescale[i] + sum_j st_ji; m[i] = mx.
void attn_softmax_f32(float* st, int64_t ldt, int64_t M, int64_t N, float* m, float* l, float* rescale);
// s = a b with b in bfloat16 and its columns in groups of 16, each group
// channel-major ([D][16] values, groups ldg values apart), so one vector
// load takes a channel of 16 columns (block-sparse key bounds,
// core/compute/kv_cache.h):
// s[i * lds + j] = (accumulate ? s[i * lds + j] : 0)
//                  + sum_d a[i * lda + d] * bf16(b[(j / 16) * ldg + d * 16 + j % 16])
// for i < M, j < N (N a multiple of 16), in fused multiply-adds in order of
// d, so every ISA gives the scalar reference's floats.
void gemm_g16_bf16(const float* a, int64_t lda, int64_t M, const uint16_t* b, int64_t ldg, int64_t N, int64_t D, float* s,
                  int64_t lds, bool accumulate);

// x[i] = ggml_v_expf(x[i] - sub) (simd/ggml_exp.h: the exponential of
// llama.cpp's portable softmax); -inf gives 0.
void expf_ggml(float* x, int64_t n, float sub);

// Attention in ggml's order (its non-flash path on the CPU): each score a
// dot of float-rounded products summed in double, each output element the
// values times float-rounded probabilities summed in double, key by key.
// Used where moerun must agree with llama.cpp to the last bit (tiles whose
// keys are not split over threads, core/compute/attention.cpp).
// s[i * lds + j] = (float) sum_d (double) (qt[d * ldqt + i] * k[j * ldk + d])   (qt: the queries transposed)
// qt[d * ldqt + h] = q[h * D + d] for h < H: H query rows of D as attn_scores_exact reads them.
inline void transpose_queries(const float* q, int64_t H, int64_t D, float* qt, int64_t ldqt) {
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t d = 0; d < D; ++d) qt[d * ldqt + h] = q[h * D + d];
  }
}
void attn_scores_exact(const float* qt, int64_t ldqt, int64_t M, const float* k, int64_t ldk, int64_t N, int64_t D,
                       float* s, int64_t lds);
// o[i * ldo + d] += (double) (p[i * ldp + j] * v[j * ldv + d]) for j = 0, 1, ... N - 1 in turn
void attn_values_exact(const float* p, int64_t ldp, int64_t M, const float* v, int64_t ldv, int64_t N, int64_t D,
                       double* o, int64_t ldo);

// Rotary position embedding of one head vector x[0..n_rot) in place.
// neox = false: adjacent pairs (x[2i], x[2i+1]) ("normal" in ggml);
// neox = true: pairs (x[i], x[i + n_rot/2]).
// theta_i = pos * freq_scale * base^(-2i/n_rot) / freq_factors[i] (factors may be null).
struct RopeParams {
  int64_t n_rot = 0;
  float base = 10000.0f;
  float freq_scale = 1.0f;
  bool neox = false;
  const float* freq_factors = nullptr;  // n_rot/2 divisors (Llama 3.1 rope_freqs)
  // YaRN (DeepSeek, Qwen long context); ext_factor 0 disables.
  float ext_factor = 0.0f;
  float attn_factor = 1.0f;
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  int64_t n_ctx_orig = 0;
};
// Scalar code on every ISA (a few sin/cos per position).
void rope_inplace(float* x, int64_t pos, const RopeParams& p);
// The same in two steps, for the many heads of one position: the (cos, sin)
// of each pair once (cs: n_rot floats), then each head; the same floats as
// rope_inplace. The models use these.
void rope_table(int64_t pos, const RopeParams& p, float* cs);
void rope_apply(float* x, const float* cs, const RopeParams& p);

}  // namespace moerun
