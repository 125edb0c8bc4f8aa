// Float kernels on activation rows: norms, softmax, activation functions,
// RoPE. Each call goes to the active ISA (simd/dispatch.h); the scalar
// reference is simd/scalar/float_ops.cpp.
// Kernels never allocate or throw; callers check shapes.
#pragma once

#include <cstdint>

namespace moerun {

// y = x / rms(x) * w   (w may be nullptr: no weight)
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);
// x = softmax(x), numerically stable.
void softmax_inplace(float* x, int64_t n);
// out = silu(gate) * up
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
// y += x
void add_inplace(float* y, const float* x, int64_t n);
// y += a * x
void axpy(float* y, float a, const float* x, int64_t n);
// sum a[i] * b[i]
float dot_f32(const float* a, const float* b, int64_t n);

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
void rope_inplace(float* x, int64_t pos, const RopeParams& p);

}  // namespace moerun
