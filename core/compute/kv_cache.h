// KvCache: per-layer key/value rows for every (sequence, position), stored in
// fixed-size pages so a sequence grows without copying and attention can walk
// a sequence page by page (later: sparse attention reads only chosen pages).
// What a "key row" holds is the model's business: GQA stores n_kv_heads ×
// head_dim keys, MLA stores its compressed latent plus the rope key.
#pragma once

#include <cstdint>
#include <vector>

namespace moerun {

struct KvLayout {
  int64_t n_layer = 0;
  int64_t k_dim = 0;  // floats per token per layer in the key row
  int64_t v_dim = 0;  // floats per token per layer in the value row (may be 0)
};

class KvCache {
 public:
  // Tokens per page: 64 keeps a page of a 1024-float row at 256 KiB, small
  // enough for sparse reads, large enough that page lookups are rare.
  static constexpr int64_t kPageTokens = 64;

  KvCache(const KvLayout& layout, int64_t n_ctx, int64_t n_seq);

  const KvLayout& layout() const { return layout_; }
  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_seq() const { return static_cast<int64_t>(seqs_.size()); }
  // Floats from one position's row to the next within a page: the rows of
  // positions [p, p + n) lie at this stride when they share a page
  // (p % kPageTokens + n <= kPageTokens).
  int64_t row_stride() const { return row_floats_; }

  // Number of positions stored for a sequence (highest written position + 1).
  int64_t seq_len(int64_t seq) const { return seqs_[seq].len; }
  // Makes room for positions [0, n) of `seq`; throws if n exceeds the context.
  void reserve(int64_t seq, int64_t n);
  // Marks positions [0, n) as filled (after the forward pass wrote them).
  void set_len(int64_t seq, int64_t n) { seqs_[seq].len = n; }
  // Drops everything a sequence holds (its pages return to the pool).
  void clear(int64_t seq);

  float* k(int64_t layer, int64_t seq, int64_t pos) { return row(layer, seq, pos, 0); }
  float* v(int64_t layer, int64_t seq, int64_t pos) { return row(layer, seq, pos, layout_.k_dim); }
  const float* k(int64_t layer, int64_t seq, int64_t pos) const {
    return const_cast<KvCache*>(this)->row(layer, seq, pos, 0);
  }
  const float* v(int64_t layer, int64_t seq, int64_t pos) const {
    return const_cast<KvCache*>(this)->row(layer, seq, pos, layout_.k_dim);
  }

 private:
  struct Seq {
    std::vector<int32_t> pages;  // page ids, one per kPageTokens positions
    int64_t len = 0;
  };
  // A page holds, for every layer, kPageTokens rows of (k_dim + v_dim) floats.
  float* row(int64_t layer, int64_t seq, int64_t pos, int64_t offset) {
    const Seq& s = seqs_[seq];
    float* page = pool_[s.pages[pos / kPageTokens]].data();
    return page + ((layer * kPageTokens) + pos % kPageTokens) * row_floats_ + offset;
  }

  KvLayout layout_;
  int64_t n_ctx_;
  int64_t row_floats_;
  std::vector<Seq> seqs_;
  std::vector<std::vector<float>> pool_;
  std::vector<int32_t> free_pages_;
};

}  // namespace moerun
