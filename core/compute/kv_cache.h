// KvCache: per-layer key/value rows for every (sequence, position), stored in
// fixed-size pages so a sequence grows without copying and attention can walk
// a sequence page by page. With block-sparse attention on, it also keeps,
// per block of kBoundBlock positions, the per-channel max and min of the key
// rows, which bound every query's score on the block (core/compute/block_sparse.h).
// What a "key row" holds is the model's business: GQA stores n_kv_heads ×
// head_dim keys, MLA stores its compressed latent plus the rope key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace moerun {

// Block-sparse attention (off while budget is 0): a query past `budget`
// positions attends to the first `sinks` positions, the last `window`, and
// the blocks whose key bounds promise the highest scores, `budget` keys in
// all.
struct SparseAttnConfig {
  int64_t budget = 0;
  int64_t sinks = 0;
  int64_t window = 0;
  bool select = true;  // false: sinks and window only (the baseline the block choice must beat)
};

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
  // Positions per key-bound block. Quest (Tang et al. 2024) uses pages of
  // 16 or 32 tokens; 16 gave 2-4x lower KL(dense || sparse) than 32 on the
  // trained test models at every budget (docs/sparse-attention.md), for
  // bounds that take 1/16 of the F32 key memory (bfloat16 max and min).
  static constexpr int64_t kBoundBlock = 16;
  static_assert(kPageTokens % kBoundBlock == 0);
  // Blocks per group of bounds: a group stores its blocks' bounds channel
  // by channel, so one vector load takes a channel of 16 blocks and a
  // query's bounds are a GEMM of its heads against whole vectors
  // (simd gemm_g16_bf16), not a dot product per block.
  static constexpr int64_t kBoundGroup = 16;

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

  // Turns block-sparse attention on (budget > 0) or off; with a selecting
  // configuration the cache keeps key bounds from now on (rows written
  // before are not covered: call this before the first forward pass).
  void set_sparse(const SparseAttnConfig& c);
  const SparseAttnConfig& sparse() const { return sparse_; }
  // Flash attention: every row in key tiles with an online softmax, as
  // llama.cpp's flash attention; off, rows of up to 1024 keys follow
  // llama.cpp's non-flash order to the last bit (core/compute/attention.cpp).
  void set_flash_attn(bool on) { flash_attn_ = on; }
  bool flash_attn() const { return flash_attn_; }
  bool has_key_bounds() const { return keep_bounds_; }
  // Bounds of the blocks of group `group` (block b covers positions
  // [b * kBoundBlock, +kBoundBlock); group g holds blocks [16 g, 16 g + 16)),
  // over the rows written so far: [2 * k_dim][kBoundGroup] bfloat16, the
  // maximum of channel i of block 16 g + l at [i * 16 + l] (rounded up),
  // its minimum at [(k_dim + i) * 16 + l] (rounded down), so they still
  // bound every key. The groups of one (layer, sequence) follow each other
  // at bound_group_stride() values. Bfloat16 halves what choosing blocks
  // reads per query (1/16 of the F32 keys' bytes at 16-token blocks).
  uint16_t* key_bound_group(int64_t layer, int64_t seq, int64_t group) {
    return bounds_[seq * layout_.n_layer + layer].data() + group * bound_group_stride();
  }
  const uint16_t* key_bound_group(int64_t layer, int64_t seq, int64_t group) const {
    return const_cast<KvCache*>(this)->key_bound_group(layer, seq, group);
  }
  int64_t bound_group_stride() const { return 2 * layout_.k_dim * kBoundGroup; }

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
  SparseAttnConfig sparse_;
  bool flash_attn_ = false;
  bool keep_bounds_ = false;
  // Per (sequence, layer), when kept: the blocks of the reserved positions.
  std::vector<std::vector<uint16_t>> bounds_;
  void reserve_bounds(int64_t seq);
};

}  // namespace moerun
