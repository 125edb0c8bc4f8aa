// Feed-forward blocks built from matmul: the SwiGLU FFN that dense layers,
// shared experts and each routed expert all use.
#pragma once

#include <cstdint>
#include <vector>

#include "core/gguf/tensor.h"

namespace moerun {

// Scratch that grows to the largest batch seen, so decode steps allocate nothing.
struct FfnScratch {
  std::vector<float> gate, up;
};

// y[B, E] = down(silu(gate(x)) * up(x)); x: [B, E] with row stride E.
// gate/up: [F, E] (ne[0] = E), down: [E, F].
void swiglu_ffn(const TensorView& gate, const TensorView& up, const TensorView& down, const float* x, int64_t B,
                float* y, FfnScratch& s);

}  // namespace moerun
