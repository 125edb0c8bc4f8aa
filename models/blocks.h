// Blocks every architecture's forward pass shares: the embedding lookup at
// the bottom, the per-token norms inside and the normed output head at the top.
#pragma once

#include <cstdint>

#include "core/compute/batch.h"
#include "core/gguf/tensor.h"

namespace moerun {

// x[b] = row batch.tokens[b] of tok_embd ([E, n_vocab]); a token id outside
// the vocabulary is a bad-input Error.
void embed_tokens(const TensorView& tok_embd, const Batch& batch, float* x);

// y[b] = rms_norm(x[b]) * norm for each of the B rows of E.
void rms_norm_rows(const float* x, const float* norm, float* y, int64_t B, int64_t E, float eps);

// For each token flagged in batch.logits, in order: rms_norm(x[b]) * norm,
// then one matmul by `output` ([E, n_vocab]) over just those rows, so the
// large head runs only where logits are wanted. `scratch` holds B rows of E.
void output_logits(const Batch& batch, const float* x, const float* norm, float eps, const TensorView& output,
                   float* scratch, float* logits);

}  // namespace moerun
