// Block-sparse attention for models trained dense (training-free, after
// Quest: Tang et al., "Quest: Query-Aware Sparsity for Efficient
// Long-Context LLM Inference", ICML 2024). The cache keeps, per block of
// KvCache::kBoundBlock positions, the per-channel max and min of its keys;
// a query q's score on any key of the block is at most
//   sum_i max(q_i * min_i, q_i * max_i) = q+ . max + q- . min,
// so the blocks with the highest bounds are the only ones that can carry
// much of its attention. Each query past the budget keeps the first tokens
// (attention sinks: Xiao et al., "Efficient Streaming Language Models with
// Attention Sinks", 2023), a window of the latest ones, and the best blocks
// in between, `budget` keys in all. MLA scores the bounds of its latent rows
// with the absorbed query, like its attention.
#pragma once

#include <cstdint>

#include "core/compute/attention.h"
#include "core/compute/batch.h"
#include "core/compute/kv_cache.h"

namespace moerun {

// The configuration `--sparse-attn=BUDGET` stands for: 4 sinks, a window of
// budget / 8 (see the fidelity table in docs/sparse-attention.md); with
// select = false the window takes the whole budget but the sinks.
SparseAttnConfig block_sparse_config(int64_t budget, bool select = true);

// Recomputes the key bounds of the blocks the rows of `batch` fall in, over
// every row written so far (called by kv_store once the rows are stored).
void update_key_bounds(const Batch& batch, KvCache& kv, int64_t layer);

// Chooses the keys of each (row, KV head) of `batch` whose context exceeds
// kv.sparse().budget; other rows stay dense (empty). Returns false, leaving
// `sel` alone, when every row is dense. q: [B, n_head * head_dim_k], the
// queries gqa_attention gets.
bool select_blocks(const Batch& batch, const KvCache& kv, int64_t layer, const GqaShape& s, const float* q,
                   KeySelection& sel);

}  // namespace moerun
