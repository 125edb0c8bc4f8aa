#include "core/compute/ffn.h"

#include "core/compute/matmul.h"
#include "simd/float_ops.h"

namespace moerun {

void swiglu_ffn(const TensorView& gate, const TensorView& up, const TensorView& down, const float* x, int64_t B,
                float* y, FfnScratch& s) {
  const int64_t E = gate.ne[0];
  const int64_t F = gate.ne[1];
  s.gate.resize(static_cast<size_t>(B * F));
  s.up.resize(static_cast<size_t>(B * F));
  matmul2(gate, s.gate.data(), F, up, s.up.data(), F, x, E, B);
  silu_mul(s.gate.data(), s.up.data(), s.gate.data(), B * F);
  matmul(down, s.gate.data(), F, B, y, E);
}

}  // namespace moerun
