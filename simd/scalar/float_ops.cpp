// Scalar float kernels: the reference every ISA variant is checked against,
// and the scalar row of the dispatch table (simd/scalar/kernels.cpp).
#include <bit>
#include <cmath>

#include "simd/ggml_exp.h"
#include "simd/rms_scale.h"
#include "simd/scalar/scalar.h"

namespace moerun::scalar {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
  const float scale = rms_scale(x, n, eps);
  if (w != nullptr) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

void softmax_inplace(float* x, int64_t n) { ggml_exp::softmax_row(x, n, expf_ggml); }

// ggml_vec_swiglu_f32: ggml_v_silu on groups of 4, ggml_silu_f32 on the rest.
void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  const int64_t n4 = n & ~int64_t{3};
  int64_t i = 0;
  for (; i < n4; ++i) out[i] = ggml_exp::v_silu(gate[i]) * up[i];
  for (; i < n; ++i) out[i] = ggml_exp::silu_tail(gate[i]) * up[i];
}

void expf_ggml(float* x, int64_t n, float sub) {
  for (int64_t i = 0; i < n; ++i) x[i] = ggml_exp::v_expf(x[i] - sub);
}

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void axpy(float* y, float a, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

float dot_f32(const float* a, const float* b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(s);
}

void attn_scores_f32(const float* qt, int64_t ldt, int64_t M, const float* const* k, int64_t N, int64_t D, float* st,
                     const float* const* /*v*/, int64_t /*dv*/) {
  for (int64_t j = 0; j < N; ++j) {
    for (int64_t i = 0; i < M; ++i) {
      double acc = 0;
      for (int64_t d = 0; d < D; ++d) acc += static_cast<double>(qt[d * ldt + i]) * k[j][d];
      st[j * ldt + i] = static_cast<float>(acc);
    }
  }
}

void gemm_g16_bf16(const float* a, int64_t lda, int64_t M, const uint16_t* b, int64_t ldg, int64_t N, int64_t D, float* s,
                  int64_t lds, bool accumulate) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      const uint16_t* col = b + (j / 16) * ldg + j % 16;
      float t = accumulate ? s[i * lds + j] : 0.0f;
      for (int64_t d = 0; d < D; ++d) {
        t = std::fma(a[i * lda + d], std::bit_cast<float>(static_cast<uint32_t>(col[d * 16]) << 16), t);
      }
      s[i * lds + j] = t;
    }
  }
}

void attn_values_f32(const float* st, int64_t ldt, int64_t M, const float* const* v, int64_t N, int64_t D, float* o,
                     int64_t ldo) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t d = 0; d < D; ++d) {
      double acc = o[i * ldo + d];
      for (int64_t j = 0; j < N; ++j) acc += static_cast<double>(st[j * ldt + i]) * v[j][d];
      o[i * ldo + d] = static_cast<float>(acc);
    }
  }
}

void attn_softmax_f32(float* st, int64_t ldt, int64_t M, int64_t N, float* m, float* l, float* rescale) {
  for (int64_t i = 0; i < M; ++i) {
    float mx = m[i];
    for (int64_t j = 0; j < N; ++j) mx = std::fmax(mx, st[j * ldt + i]);
    if (mx == -INFINITY) {  // nothing unmasked yet
      rescale[i] = 1.0f;
      for (int64_t j = 0; j < N; ++j) st[j * ldt + i] = 0.0f;
      continue;
    }
    double sum = 0;
    for (int64_t j = 0; j < N; ++j) {
      float& e = st[j * ldt + i];
      e = std::exp(e - mx);
      sum += e;
    }
    rescale[i] = std::exp(m[i] - mx);
    l[i] = l[i] * rescale[i] + static_cast<float>(sum);
    m[i] = mx;
  }
}

// Every lane order here is ggml's: per score, d ascending; per output
// element, j ascending. Products are rounded to float before the double add.
void attn_scores_exact(const float* qt, int64_t ldqt, int64_t M, const float* k, int64_t ldk, int64_t N, int64_t D,
                       float* s, int64_t lds) {
  for (int64_t j = 0; j < N; ++j) {
    const float* kj = k + j * ldk;
    for (int64_t i = 0; i < M; ++i) {
      double acc = 0;
      for (int64_t d = 0; d < D; ++d) acc += static_cast<double>(qt[d * ldqt + i] * kj[d]);
      s[i * lds + j] = static_cast<float>(acc);
    }
  }
}

void attn_values_exact(const float* p, int64_t ldp, int64_t M, const float* v, int64_t ldv, int64_t N, int64_t D,
                       double* o, int64_t ldo) {
  for (int64_t i = 0; i < M; ++i) {
    double* oi = o + i * ldo;
    for (int64_t j = 0; j < N; ++j) {
      const float pj = p[i * ldp + j];
      const float* vj = v + j * ldv;
      for (int64_t d = 0; d < D; ++d) oi[d] += static_cast<double>(pj * vj[d]);
    }
  }
}

namespace {

// YaRN ramp between the dimensions that rotate fast (kept) and slow
// (interpolated); follows the YaRN paper (Peng et al. 2023, eq. 17-18).
float yarn_corr_dim(int64_t n_dims, int64_t n_ctx_orig, float n_rot, float base) {
  return n_dims * std::log(n_ctx_orig / (n_rot * 2 * static_cast<float>(M_PI))) / (2 * std::log(base));
}

}  // namespace

namespace {

// What every pair of one position needs: ggml's YaRN ramp bounds and the
// theta step.
struct RopeStep {
  float corr_lo = 0, corr_hi = 0, theta_scale = 0;
  explicit RopeStep(const RopeParams& p) {
    if (p.ext_factor != 0.0f) {
      corr_lo = std::fmax(0.0f, std::floor(yarn_corr_dim(p.n_rot, p.n_ctx_orig, p.beta_fast, p.base)));
      corr_hi = std::fmin(static_cast<float>(p.n_rot - 1),
                          std::ceil(yarn_corr_dim(p.n_rot, p.n_ctx_orig, p.beta_slow, p.base)));
    }
    theta_scale = std::pow(p.base, -2.0f / static_cast<float>(p.n_rot));
  }
  // (cos, sin) of pair i, theta_base = pos * theta_scale^i.
  void pair(const RopeParams& p, int64_t i, float theta_base, float& c, float& s) const {
    const float theta_extrap = theta_base / (p.freq_factors != nullptr ? p.freq_factors[i] : 1.0f);
    const float theta_interp = p.freq_scale * theta_extrap;
    float theta = theta_interp;
    float mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) {
      const float y = (static_cast<float>(2 * i) / 2 - corr_lo) / std::fmax(0.001f, corr_hi - corr_lo);
      const float ramp = 1.0f - std::fmin(1.0f, std::fmax(0.0f, y));
      const float mix = ramp * p.ext_factor;
      theta = theta_interp * (1 - mix) + theta_extrap * mix;
      mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
    }
    c = std::cos(theta) * mscale;
    s = std::sin(theta) * mscale;
  }
};

void rotate(float* x, int64_t i, float c, float s, const RopeParams& p) {
  const int64_t half = p.n_rot / 2;
  const int64_t a = p.neox ? i : 2 * i;
  const int64_t b = p.neox ? i + half : 2 * i + 1;
  const float x0 = x[a], x1 = x[b];
  x[a] = x0 * c - x1 * s;
  x[b] = x0 * s + x1 * c;
}

}  // namespace

// theta_i = pos * base^(-2i/n_rot) by repeated multiplication, in float, as
// ggml's rope cache does: a closed-form pow differs in the last bits, and a
// last bit can move a level of the next int8 quantization.
void rope_inplace(float* x, int64_t pos, const RopeParams& p) {
  const RopeStep step(p);
  float theta_base = static_cast<float>(pos);
  for (int64_t i = 0; i < p.n_rot / 2; ++i, theta_base *= step.theta_scale) {
    float c, s;
    step.pair(p, i, theta_base, c, s);
    rotate(x, i, c, s, p);
  }
}

void rope_table(int64_t pos, const RopeParams& p, float* cs) {
  const RopeStep step(p);
  float theta_base = static_cast<float>(pos);
  for (int64_t i = 0; i < p.n_rot / 2; ++i, theta_base *= step.theta_scale) step.pair(p, i, theta_base, cs[2 * i], cs[2 * i + 1]);
}

void rope_apply(float* x, const float* cs, const RopeParams& p) {
  for (int64_t i = 0; i < p.n_rot / 2; ++i) rotate(x, i, cs[2 * i], cs[2 * i + 1], p);
}

}  // namespace moerun::scalar
