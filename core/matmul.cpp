#include "core/matmul.h"

#include <vector>

namespace moerun {

void matmul(const TensorView& w, const float* x, int64_t ldx, int64_t B, float* y, int64_t ldy) {
  const int64_t K = w.ne[0];
  const int64_t N = w.ne[1];
  const FormatTraits& wf = format_traits(w.type);
  const FormatTraits& af = format_traits(wf.vec_dot_type);

  // Quantize each activation row once; every weight row reuses it.
  const size_t a_row = row_bytes(af.type, K);
  thread_local std::vector<uint8_t> act;
  const uint8_t* a = reinterpret_cast<const uint8_t*>(x);
  size_t a_stride = static_cast<size_t>(ldx) * sizeof(float);
  if (af.type != QType::F32) {
    act.resize(a_row * static_cast<size_t>(B));
    for (int64_t b = 0; b < B; ++b) af.quantize(x + b * ldx, act.data() + b * a_row, K);
    a = act.data();
    a_stride = a_row;
  }
  const VecDotFn dot = wf.vec_dot;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < N; ++n) {
    const uint8_t* wr = w.row(n);
    for (int64_t b = 0; b < B; ++b) y[b * ldy + n] = dot(K, wr, a + b * a_stride);
  }
}

void dequantize_row(const TensorView& w, int64_t i, float* dst) {
  format_traits(w.type).dequantize(w.row(i), dst, w.ne[0]);
}

}  // namespace moerun
