// Hyperparameters shared by the transformer families, read from the GGUF
// keys "<arch>.<leaf>"; fields keep the key's leaf name so a grep leads from
// key to field. Each family adds its own on top.
#pragma once

#include <cstdint>
#include <string>

#include "core/gguf/gguf.h"
#include "simd/float_ops.h"

namespace moerun {

struct CommonHparams {
  std::string arch;
  int64_t n_vocab = 0;             // rows of token_embd
  int64_t context_length = 0;      // trained context
  int64_t embedding_length = 0;
  int64_t block_count = 0;
  int64_t feed_forward_length = 0;
  int64_t head_count = 0;
  int64_t head_count_kv = 0;
  int64_t key_length = 0;          // per head (default embedding_length / head_count)
  int64_t value_length = 0;
  float layer_norm_rms_epsilon = 1e-5f;
  RopeParams rope;                 // n_rot = rope.dimension_count
};

// Reads and checks the common keys; `n_vocab` comes from the caller (the
// embedding tensor's row count).
CommonHparams read_common_hparams(const GgufFile& f, int64_t n_vocab);

}  // namespace moerun
