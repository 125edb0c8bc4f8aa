#include "cli/bench_context.h"

#include <algorithm>
#include <cstring>

#include "cli/generate.h"
#include "core/compute/block_sparse.h"

namespace moerun::cli {

void fill_context(Engine& engine, int64_t n, int64_t n_seq, const std::vector<int32_t>& tokens) {
  KvCache& kv = engine.kv();
  const int64_t real = std::min<int64_t>({n, kFillPrefill, static_cast<int64_t>(tokens.size())});
  kv.clear(0);
  prefill(engine, std::vector<int32_t>(tokens.begin(), tokens.begin() + real), 0, 0);
  const KvLayout& L = kv.layout();
  for (int64_t s = 0; s < n_seq; ++s) {
    if (s > 0) kv.clear(s);
    kv.reserve(s, n);
    for (int64_t l = 0; l < L.n_layer; ++l) {
      for (int64_t p = s == 0 ? real : 0; p < n; ++p) {
        std::memcpy(kv.k(l, s, p), kv.k(l, 0, p % real), L.k_dim * sizeof(float));
        if (L.v_dim > 0) std::memcpy(kv.v(l, s, p), kv.v(l, 0, p % real), L.v_dim * sizeof(float));
      }
    }
    kv.set_len(s, n);
    if (!kv.has_key_bounds()) continue;
    Batch blocks;  // one position per block: its bounds are recomputed over every row
    for (int64_t p = 0; p < n; p += KvCache::kBoundBlock) blocks.add(0, static_cast<int32_t>(p), static_cast<int32_t>(s), false);
    for (int64_t l = 0; l < L.n_layer; ++l) update_key_bounds(blocks, kv, l);
  }
}

AttentionTime attention_time(const std::vector<OpTime>& ops, int64_t n_tokens) {
  AttentionTime t;
  if (n_tokens <= 0) return t;
  for (const OpTime& o : ops) {
    if (o.name == "attention") t.attention += o.seconds;
    if (o.name == "sparse.select" || o.name == "dsa.select" || o.name == "dsa.indexer") t.select += o.seconds;
  }
  t.attention /= static_cast<double>(n_tokens);
  t.select /= static_cast<double>(n_tokens);
  return t;
}

}  // namespace moerun::cli
