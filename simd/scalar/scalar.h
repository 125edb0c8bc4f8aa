// The scalar float kernels by name, for the scalar table row and for tests
// that compare an ISA's float ops with them. Same contracts as float_ops.h.
#pragma once

#include <cstdint>

#include "simd/float_ops.h"

namespace moerun::scalar {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);
void softmax_inplace(float* x, int64_t n);
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
void add_inplace(float* y, const float* x, int64_t n);
void axpy(float* y, float a, const float* x, int64_t n);
float dot_f32(const float* a, const float* b, int64_t n);
void attn_scores_f32(const float* qt, int64_t ldt, int64_t M, const float* const* k, int64_t N, int64_t D, float* st,
                     const float* const* v, int64_t dv);
void attn_values_f32(const float* st, int64_t ldt, int64_t M, const float* const* v, int64_t N, int64_t D, float* o,
                     int64_t ldo);
void gemm_g16_bf16(const float* a, int64_t lda, int64_t M, const uint16_t* b, int64_t ldg, int64_t N, int64_t D, float* s,
                  int64_t lds, bool accumulate);
void attn_softmax_f32(float* st, int64_t ldt, int64_t M, int64_t N, float* m, float* l, float* rescale);
void rope_inplace(float* x, int64_t pos, const RopeParams& p);
void rope_table(int64_t pos, const RopeParams& p, float* cs);
void rope_apply(float* x, const float* cs, const RopeParams& p);
void expf_ggml(float* x, int64_t n, float sub);
void attn_scores_exact(const float* qt, int64_t ldqt, int64_t M, const float* k, int64_t ldk, int64_t N, int64_t D,
                       float* s, int64_t lds);
void attn_values_exact(const float* p, int64_t ldp, int64_t M, const float* v, int64_t ldv, int64_t N, int64_t D,
                       double* o, int64_t ldo);

}  // namespace moerun::scalar
