#include "core/compute/block_sparse.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "core/compute/op_profile.h"
#include "core/compute/thread_pool.h"
#include "simd/float_ops.h"

namespace moerun {

namespace {

constexpr int64_t kBlock = KvCache::kBoundBlock;
// Blocks per work item when the bounds of one query are shared out over
// the threads (decode of a long sequence).
constexpr int64_t kChunkBlocks = 64;

// One (row, KV head) that keeps a subset: its candidate blocks lie between
// the sinks and the window, positions [mid0, mid1).
struct SparseRow {
  int64_t b = 0, g = 0;
  int64_t mid0 = 0, mid1 = 0;
  int64_t blk0 = 0, blk1 = 0;  // candidate blocks [blk0, blk1)
  int64_t ub = 0;              // offset of its [G, blk1 - blk0] bounds in the buffer
};

}  // namespace

SparseAttnConfig block_sparse_config(int64_t budget, bool select) {
  SparseAttnConfig c;
  c.budget = budget;
  c.sinks = std::min<int64_t>(4, budget);
  c.window = select ? std::max<int64_t>(1, budget / 8) : budget - c.sinks;
  c.select = select;
  return c;
}

void update_key_bounds(const Batch& batch, KvCache& kv, int64_t layer) {
  const int64_t kd = kv.layout().k_dim;
  // (seq, block, highest position the batch writes in it), one per block.
  std::vector<std::tuple<int32_t, int64_t, int64_t>> blocks;
  for (int64_t b = 0; b < batch.size(); ++b) blocks.emplace_back(batch.seq[b], batch.pos[b] / kBlock, batch.pos[b]);
  std::sort(blocks.begin(), blocks.end());
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto [seq, blk, last] = blocks[i];
    if (i + 1 < blocks.size() && std::get<0>(blocks[i + 1]) == seq && std::get<1>(blocks[i + 1]) == blk) continue;
    const int64_t lo = blk * kBlock;
    const int64_t hi = std::max(last, std::min(lo + kBlock, kv.seq_len(seq)) - 1);  // rows written so far
    float* mx = kv.key_bounds(layer, seq, blk);
    float* mn = mx + kd;
    const float* r0 = kv.k(layer, seq, lo);
    std::copy(r0, r0 + kd, mx);
    std::copy(r0, r0 + kd, mn);
    for (int64_t p = lo + 1; p <= hi; ++p) {
      const float* r = kv.k(layer, seq, p);
      for (int64_t i = 0; i < kd; ++i) {
        mx[i] = std::max(mx[i], r[i]);
        mn[i] = std::min(mn[i], r[i]);
      }
    }
  }
}

bool select_blocks(const Batch& batch, const KvCache& kv, int64_t layer, const GqaShape& s, const float* q,
                   KeySelection& sel) {
  const SparseAttnConfig& cfg = kv.sparse();
  const int64_t B = batch.size();
  bool any = false;
  for (int64_t b = 0; b < B; ++b) any = any || batch.pos[b] + 1 > cfg.budget;
  if (!any) return false;
  OpScope op("sparse.select");
  const int64_t G = s.n_head / s.n_head_kv, dk = s.head_dim_k, kd = kv.layout().k_dim;
  const int64_t window = cfg.select ? cfg.window : cfg.budget - cfg.sinks;

  std::vector<SparseRow> rows;
  int64_t n_ub = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = batch.pos[b] + 1;
    if (n <= cfg.budget) continue;
    for (int64_t g = 0; g < s.n_head_kv; ++g) {
      SparseRow r{b, g, cfg.sinks, n - window, 0, 0, n_ub};
      if (cfg.select) {
        r.blk0 = r.mid0 / kBlock;
        r.blk1 = (r.mid1 + kBlock - 1) / kBlock;
        n_ub += G * (r.blk1 - r.blk0);
      }
      rows.push_back(r);
    }
  }
  // Upper bounds of every candidate block for every head of the group, in
  // chunks of blocks over the threads: ub[h][j] = q+_h . max_j + q-_h . min_j,
  // two GEMMs over the chunk's bound rows (consecutive at 2 * k_dim floats).
  std::vector<float> ub(static_cast<size_t>(n_ub));
  if (cfg.select) {
    std::vector<std::pair<int64_t, int64_t>> units;  // (row, first block)
    for (int64_t r = 0; r < static_cast<int64_t>(rows.size()); ++r) {
      for (int64_t j = rows[r].blk0; j < rows[r].blk1; j += kChunkBlocks) units.push_back({r, j});
    }
    parallel_for(static_cast<int64_t>(units.size()), [&](int64_t u) {
      thread_local std::vector<float> qpos, qneg, lo;
      const SparseRow& r = rows[units[u].first];
      const int64_t j0 = units[u].second, n = std::min(r.blk1, j0 + kChunkBlocks) - j0, nb = r.blk1 - r.blk0;
      qpos.resize(G * dk);
      qneg.resize(G * dk);
      lo.resize(G * kChunkBlocks);
      const float* qg = q + r.b * s.n_head * dk + r.g * G * dk;
      for (int64_t i = 0; i < G * dk; ++i) {
        const float v = qg[i] * s.scale;
        qpos[i] = std::max(v, 0.0f);
        qneg[i] = std::min(v, 0.0f);
      }
      const float* mx = kv.key_bounds(layer, batch.seq[r.b], j0) + r.g * dk;
      float* hi = ub.data() + r.ub + (j0 - r.blk0);
      gemm_nt_f32(qpos.data(), dk, G, mx, 2 * kd, n, dk, hi, nb);
      gemm_nt_f32(qneg.data(), dk, G, mx + kd, 2 * kd, n, dk, lo.data(), kChunkBlocks);
      for (int64_t h = 0; h < G; ++h) add_inplace(hi + h * nb, lo.data() + h * kChunkBlocks, n);
    });
  }
  // Per row: rank the blocks, take the best that fit the budget, and write
  // sinks + blocks + window as spans.
  std::vector<std::vector<KeySpan>> row_spans(rows.size());
  parallel_for(static_cast<int64_t>(rows.size()), [&](int64_t ri) {
    thread_local std::vector<float> key, best, sums, rescale;
    thread_local std::vector<int64_t> order, taken;
    thread_local std::vector<std::pair<int64_t, int64_t>> segs;  // chosen [begin, end) between sinks and window
    const SparseRow& r = rows[ri];
    std::vector<KeySpan>& out = row_spans[ri];
    out.clear();
    if (cfg.sinks > 0) out.push_back({0, static_cast<int32_t>(cfg.sinks)});
    const int64_t nb = r.blk1 - r.blk0;
    taken.clear();
    segs.clear();
    if (nb > 0) {
      // A block's rank: sum over the group's heads of e^(bound - that head's
      // best bound), a stand-in for the attention mass the block may hold,
      // in which a head's favourite blocks count whatever the scale of its
      // scores (docs/sparse-attention.md compares the alternatives).
      // In place: ub[h][j] = e^(ub[h][j] - max_j ub[h][j]) (the online
      // softmax kernel, started fresh, computes exactly that), then summed
      // over the heads.
      float* u = ub.data() + r.ub;
      best.assign(G, -INFINITY);
      sums.assign(G, 0.0f);
      rescale.resize(G);
      softmax_block_f32(u, nb, G, nb, best.data(), sums.data(), rescale.data());
      key.assign(nb, 0.0f);
      for (int64_t h = 0; h < G; ++h) add_inplace(key.data(), u + h * nb, nb);
      order.resize(nb);
      for (int64_t j = 0; j < nb; ++j) order[j] = j;
      std::sort(order.begin(), order.end(), [](int64_t a, int64_t b) {
        return key[a] > key[b] || (key[a] == key[b] && a > b);
      });
      int64_t left = cfg.budget - cfg.sinks - window;
      for (int64_t j : order) {
        const int64_t blk = r.blk0 + j;
        const int64_t len = std::min(r.mid1, (blk + 1) * kBlock) - std::max(r.mid0, blk * kBlock);
        if (len > left) continue;
        taken.push_back(blk);
        left -= len;
        if (left < 1) break;
      }
      // Budget left over (blocks cut at the sinks or the window are
      // shorter): the latest positions before the window not taken yet.
      std::sort(taken.begin(), taken.end());
      for (int64_t blk = r.blk1 - 1; blk >= r.blk0 && left > 0; --blk) {
        if (std::binary_search(taken.begin(), taken.end(), blk)) continue;
        const int64_t lo = std::max(r.mid0, blk * kBlock), hi = std::min(r.mid1, (blk + 1) * kBlock);
        const int64_t take = std::min(left, hi - lo);
        segs.push_back({hi - take, hi});
        left -= take;
      }
      for (int64_t blk : taken) segs.push_back({std::max(r.mid0, blk * kBlock), std::min(r.mid1, (blk + 1) * kBlock)});
      std::sort(segs.begin(), segs.end());
    }
    auto add = [&](int64_t b0, int64_t b1) {
      if (!out.empty() && out.back().end == b0) {
        out.back().end = static_cast<int32_t>(b1);
      } else {
        out.push_back({static_cast<int32_t>(b0), static_cast<int32_t>(b1)});
      }
    };
    for (const auto& [b0, b1] : segs) add(b0, b1);
    add(r.mid1, batch.pos[r.b] + 1);
  });
  sel.clear(s.n_head_kv);
  size_t ri = 0;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t g = 0; g < s.n_head_kv; ++g) {
      if (ri < rows.size() && rows[ri].b == b && rows[ri].g == g) {
        for (const KeySpan& sp : row_spans[ri]) sel.add(sp.begin, sp.end);
        ++ri;
      }
      sel.close_row();
    }
  }
  return true;
}

}  // namespace moerun
