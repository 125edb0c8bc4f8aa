// moerun bench --ctx N: decode timed at a long context. The cache of every
// sequence is filled to N positions first, and the attention's share of a
// decoded token is reported beside tokens/s (attention grows with the
// context; the weights read per token do not).
// Owns the fill and the attention time; cmd_bench.cpp owns the timing loop.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/compute/engine.h"
#include "core/compute/op_profile.h"

namespace moerun::cli {

// Fills sequences [0, n_seq) to n positions: the first min(n, kFillPrefill)
// by a real prefill of `tokens` (so the keys are the model's own), the rest
// by repeating those rows, which costs copies instead of a prefill whose
// attention grows with n squared. Decode time does not depend on the key
// values; block-sparse key bounds are recomputed over the copied rows.
void fill_context(Engine& engine, int64_t n, int64_t n_seq, const std::vector<int32_t>& tokens);
constexpr int64_t kFillPrefill = 512;

// Seconds of one decoded token spent in attention over the cache, and in
// choosing its keys (block-sparse bounds, DSA's indexer), from the stage
// times of `n_tokens` tokens.
struct AttentionTime {
  double attention = 0;  // "attention": the softmax(q k) v over the cache
  double select = 0;     // "sparse.select", "dsa.select", "dsa.indexer"
};
AttentionTime attention_time(const std::vector<OpTime>& ops, int64_t n_tokens);

}  // namespace moerun::cli
