// The scalar row of the dispatch table: complete by construction, every entry
// from quant/ (formats.def) or simd/scalar/float_ops.cpp. Every ISA row
// starts from it, so a kernel an ISA lacks runs this reference.
#include "quant/all_formats.h"
#include "simd/dispatch.h"
#include "simd/scalar/scalar.h"

namespace moerun {
namespace {

template <VecDotFn kDot>
void gemm_scalar(const MatmulArgs& p) {
  for (int64_t b = 0; b < p.B; ++b) {
    const uint8_t* a = p.a + static_cast<size_t>(b) * p.a_stride;
    float* y = p.y + (p.out_rows != nullptr ? p.out_rows[b] : b) * p.ldy;
    for (int64_t r = 0; r < p.N; ++r) y[r] = kDot(p.K, p.w + static_cast<size_t>(r) * p.w_stride, a);
  }
}

}  // namespace

void fill_Scalar(KernelTable& t) {
#define MOERUN_FORMAT(id, name, ggml_id, block, bsize, dequantize, quantize, quantize_act, act, vec_dot, budget) \
  t.fmt[format_index(QType::id)] = {vec_dot, gemm_scalar<vec_dot>, gemm_scalar<vec_dot>, quantize_act};
#include "quant/formats.def"
#undef MOERUN_FORMAT
  t.f.rms_norm = scalar::rms_norm;
  t.f.softmax_inplace = scalar::softmax_inplace;
  t.f.silu_mul = scalar::silu_mul;
  t.f.add_inplace = scalar::add_inplace;
  t.f.axpy = scalar::axpy;
  t.f.dot_f32 = scalar::dot_f32;
  t.f.attn_scores_f32 = scalar::attn_scores_f32;
  t.f.attn_values_f32 = scalar::attn_values_f32;
  t.f.gemm_g16_bf16 = scalar::gemm_g16_bf16;
  t.f.attn_softmax_f32 = scalar::attn_softmax_f32;
  t.f.expf_ggml = scalar::expf_ggml;
  t.f.attn_scores_exact = scalar::attn_scores_exact;
  t.f.attn_values_exact = scalar::attn_values_exact;
}

}  // namespace moerun
