#include "models/blocks.h"

#include <string>

#include "core/compute/matmul.h"
#include "core/error.h"
#include "simd/float_ops.h"

namespace moerun {

void embed_tokens(const TensorView& tok_embd, const Batch& batch, float* x) {
  const int64_t E = tok_embd.ne[0], V = tok_embd.ne[1];
  for (int64_t b = 0; b < batch.size(); ++b) {
    const int32_t t = batch.tokens[b];
    if (t < 0 || t >= V) fail("token id " + std::to_string(t) + " is out of range (n_vocab " + std::to_string(V) + ")");
    dequantize_row(tok_embd, t, x + b * E);
  }
}

void rms_norm_rows(const float* x, const float* norm, float* y, int64_t B, int64_t E, float eps) {
  for (int64_t b = 0; b < B; ++b) rms_norm(x + b * E, norm, y + b * E, E, eps);
}

void output_logits(const Batch& batch, const float* x, const float* norm, float eps, const TensorView& output,
                   float* scratch, float* logits) {
  const int64_t E = output.ne[0];
  int64_t n_out = 0;
  for (int64_t b = 0; b < batch.size(); ++b) {
    if (batch.logits[b]) rms_norm(x + b * E, norm, scratch + (n_out++) * E, E, eps);
  }
  if (n_out > 0) matmul(output, scratch, E, n_out, logits, output.ne[1]);
}

}  // namespace moerun
