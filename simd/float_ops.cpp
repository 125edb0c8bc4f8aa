// The float ops' public names (float_ops.h), forwarded to the active ISA's
// table (simd/dispatch.h).
#include "simd/float_ops.h"

#include "simd/dispatch.h"
#include "simd/scalar/scalar.h"

namespace moerun {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  kernels().f.rms_norm(x, w, y, n, eps);
}
void softmax_inplace(float* x, int64_t n) { kernels().f.softmax_inplace(x, n); }
void silu_mul(const float* gate, const float* up, float* out, int64_t n) { kernels().f.silu_mul(gate, up, out, n); }
void add_inplace(float* y, const float* x, int64_t n) { kernels().f.add_inplace(y, x, n); }
void axpy(float* y, float a, const float* x, int64_t n) { kernels().f.axpy(y, a, x, n); }
float dot_f32(const float* a, const float* b, int64_t n) { return kernels().f.dot_f32(a, b, n); }
void attn_scores_f32(const float* qt, int64_t ldt, int64_t M, const float* const* k, int64_t N, int64_t D, float* st,
                     const float* const* v, int64_t dv) {
  kernels().f.attn_scores_f32(qt, ldt, M, k, N, D, st, v, dv);
}
void gemm_g16_bf16(const float* a, int64_t lda, int64_t M, const uint16_t* b, int64_t ldg, int64_t N, int64_t D, float* s,
                  int64_t lds, bool accumulate) {
  kernels().f.gemm_g16_bf16(a, lda, M, b, ldg, N, D, s, lds, accumulate);
}
void attn_values_f32(const float* st, int64_t ldt, int64_t M, const float* const* v, int64_t N, int64_t D, float* o,
                     int64_t ldo) {
  kernels().f.attn_values_f32(st, ldt, M, v, N, D, o, ldo);
}
void expf_ggml(float* x, int64_t n, float sub) { kernels().f.expf_ggml(x, n, sub); }
void attn_scores_exact(const float* qt, int64_t ldqt, int64_t M, const float* k, int64_t ldk, int64_t N, int64_t D,
                       float* s, int64_t lds) {
  kernels().f.attn_scores_exact(qt, ldqt, M, k, ldk, N, D, s, lds);
}
void attn_values_exact(const float* p, int64_t ldp, int64_t M, const float* v, int64_t ldv, int64_t N, int64_t D,
                       double* o, int64_t ldo) {
  kernels().f.attn_values_exact(p, ldp, M, v, ldv, N, D, o, ldo);
}
void attn_softmax_f32(float* st, int64_t ldt, int64_t M, int64_t N, float* m, float* l, float* rescale) {
  kernels().f.attn_softmax_f32(st, ldt, M, N, m, l, rescale);
}
void rope_inplace(float* x, int64_t pos, const RopeParams& p) { scalar::rope_inplace(x, pos, p); }
void rope_table(int64_t pos, const RopeParams& p, float* cs) { scalar::rope_table(pos, p, cs); }
void rope_apply(float* x, const float* cs, const RopeParams& p) { scalar::rope_apply(x, cs, p); }

}  // namespace moerun
