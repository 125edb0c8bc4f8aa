// The float ops' public names (float_ops.h), forwarded to the active ISA's
// table (simd/dispatch.h).
#include "simd/float_ops.h"

#include "simd/dispatch.h"

namespace moerun {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  kernels().f.rms_norm(x, w, y, n, eps);
}
void softmax_inplace(float* x, int64_t n) { kernels().f.softmax_inplace(x, n); }
void silu_mul(const float* gate, const float* up, float* out, int64_t n) { kernels().f.silu_mul(gate, up, out, n); }
void add_inplace(float* y, const float* x, int64_t n) { kernels().f.add_inplace(y, x, n); }
void axpy(float* y, float a, const float* x, int64_t n) { kernels().f.axpy(y, a, x, n); }
float dot_f32(const float* a, const float* b, int64_t n) { return kernels().f.dot_f32(a, b, n); }
void rope_inplace(float* x, int64_t pos, const RopeParams& p) { kernels().f.rope_inplace(x, pos, p); }

}  // namespace moerun
