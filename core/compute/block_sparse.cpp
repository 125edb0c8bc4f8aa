#include "core/compute/block_sparse.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <tuple>
#include <vector>

#include "core/compute/op_profile.h"
#include "core/compute/thread_pool.h"
#include "simd/float_ops.h"

namespace moerun {

namespace {

constexpr int64_t kBlock = KvCache::kBoundBlock;
constexpr int64_t kGroup = KvCache::kBoundGroup;
// Bound groups (of 16 blocks) per work item when the bounds of one query
// are shared out over the threads (decode of a long sequence); a multiple
// of the AVX-512 kernel's 3 groups per tile.
constexpr int64_t kChunkGroups = 3;

// One (row, KV head) that keeps a subset: its candidate blocks lie between
// the sinks and the window, positions [mid0, mid1).
struct SparseRow {
  int64_t b = 0, g = 0;
  int64_t mid0 = 0, mid1 = 0;
  int64_t blk0 = 0, blk1 = 0;  // candidate blocks [blk0, blk1)
  // Its bounds: [G, cols] in the buffer from offset ub, one column per
  // block of the whole bound groups [gr0, gr0 + cols / 16) that hold the
  // candidates (block blk0 + j at column blk0 - 16 gr0 + j).
  int64_t gr0 = 0, cols = 0, ub = 0;
  int64_t rank = 0;  // offset of its blk1 - blk0 block ranks
  int64_t first_col() const { return blk0 - gr0 * kGroup; }  // the column of blk0
};

// f rounded to bfloat16 toward +inf (dir > 0) or -inf (dir < 0), so a
// rounded maximum is still >= every key and a rounded minimum <= every key.
// Truncating the low half rounds toward zero; the other way is one step
// further from zero.
uint16_t bf16_toward(float f, int dir) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  auto h = static_cast<uint16_t>(bits >> 16);
  const bool away = (bits & 0xffffu) != 0 && std::isfinite(f) && (f > 0) == (dir > 0);
  if (away) ++h;  // the next bfloat16 away from zero (may be inf)
  return h;
}

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
    thread_local std::vector<float> mx, mn;
    const float* r0 = kv.k(layer, seq, lo);
    mx.assign(r0, r0 + kd);
    mn.assign(r0, r0 + kd);
    for (int64_t p = lo + 1; p <= hi; ++p) {
      const float* r = kv.k(layer, seq, p);
      for (int64_t i = 0; i < kd; ++i) {
        mx[i] = std::max(mx[i], r[i]);
        mn[i] = std::min(mn[i], r[i]);
      }
    }
    uint16_t* grp = kv.key_bound_group(layer, seq, blk / kGroup) + blk % kGroup;
    for (int64_t i = 0; i < kd; ++i) {
      grp[i * kGroup] = bf16_toward(mx[i], +1);
      grp[(kd + i) * kGroup] = bf16_toward(mn[i], -1);
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
  int64_t n_ub = 0, n_rank = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = batch.pos[b] + 1;
    if (n <= cfg.budget) continue;
    for (int64_t g = 0; g < s.n_head_kv; ++g) {
      SparseRow r;
      r.b = b;
      r.g = g;
      r.mid0 = cfg.sinks;
      r.mid1 = n - window;
      if (cfg.select) {
        r.blk0 = r.mid0 / kBlock;
        r.blk1 = (r.mid1 + kBlock - 1) / kBlock;
        r.gr0 = r.blk0 / kGroup;
        r.cols = ((r.blk1 + kGroup - 1) / kGroup - r.gr0) * kGroup;
        r.ub = n_ub;
        r.rank = n_rank;
        n_ub += G * r.cols;
        n_rank += r.blk1 - r.blk0;
      }
      rows.push_back(r);
    }
  }
  // Upper bounds of every candidate block for every head of the group, in
  // chunks of bound groups over the threads: ub[h][j] = q+_h . max_j +
  // q-_h . min_j, one run of fmas over the maxima then the minima of each
  // block (gemm_g16_bf16 against whole groups, straight into the row's
  // columns; those of blocks outside [blk0, blk1) are left unread).
  std::vector<float> ub(static_cast<size_t>(n_ub)), rank(static_cast<size_t>(n_rank));
  if (cfg.select) {
    struct Unit {
      int64_t row, gr;  // bound groups [gr, gr + kChunkGroups) of the row
      int64_t c0, c1;   // its columns that hold candidates
    };
    std::vector<Unit> units;
    for (int64_t ri = 0; ri < static_cast<int64_t>(rows.size()); ++ri) {
      const SparseRow& r = rows[ri];
      const int64_t first = r.first_col();
      for (int64_t c = 0; c < r.cols; c += kChunkGroups * kGroup) {
        units.push_back({ri, r.gr0 + c / kGroup, std::max(c, first),
                         std::min(c + kChunkGroups * kGroup, first + r.blk1 - r.blk0)});
      }
    }
    // Per row, its heads' scaled queries split by sign: [q+ | q-], G x dk each.
    std::vector<float> qsplit(rows.size() * 2 * G * dk);
    parallel_for(static_cast<int64_t>(rows.size()), [&](int64_t ri) {
      const float* qg = q + rows[ri].b * s.n_head * dk + rows[ri].g * G * dk;
      float* qpos = qsplit.data() + ri * 2 * G * dk;
      float* qneg = qpos + G * dk;
      for (int64_t i = 0; i < G * dk; ++i) {
        const float v = qg[i] * s.scale;
        qpos[i] = std::max(v, 0.0f);
        qneg[i] = std::min(v, 0.0f);
      }
    });
    std::vector<float> unit_max(units.size() * G);  // per unit, each head's best bound
    parallel_for(static_cast<int64_t>(units.size()), [&](int64_t ui) {
      const Unit& u = units[ui];
      const SparseRow& r = rows[u.row];
      const int64_t c = (u.gr - r.gr0) * kGroup, nt = std::min(r.cols - c, kChunkGroups * kGroup);
      const float* qpos = qsplit.data() + u.row * 2 * G * dk;
      const float* qneg = qpos + G * dk;
      const uint16_t* grp = kv.key_bound_group(layer, batch.seq[r.b], u.gr);
      const int64_t ldg = kv.bound_group_stride();
      float* t = ub.data() + r.ub + c;
      gemm_g16_bf16(qpos, dk, G, grp + r.g * dk * kGroup, ldg, nt, dk, t, r.cols, false);
      gemm_g16_bf16(qneg, dk, G, grp + (kd + r.g * dk) * kGroup, ldg, nt, dk, t, r.cols, true);
      for (int64_t h = 0; h < G; ++h) {
        const float* row = ub.data() + r.ub + h * r.cols;
        unit_max[ui * G + h] = *std::max_element(row + u.c0, row + u.c1);
      }
    });
    // A block's rank: sum over the group's heads of e^(bound - that head's
    // best bound), a stand-in for the attention mass the block may hold, in
    // which a head's favourite blocks count whatever the scale of its scores
    // (docs/sparse-attention.md compares the alternatives). Each head's
    // best bound over the row's units, then the exponentials and sums unit
    // by unit over the threads.
    std::vector<float> best(rows.size() * G, -INFINITY);
    for (size_t ui = 0; ui < units.size(); ++ui) {
      for (int64_t h = 0; h < G; ++h) {
        float& b = best[units[ui].row * G + h];
        b = std::max(b, unit_max[ui * G + h]);
      }
    }
    parallel_for(static_cast<int64_t>(units.size()), [&](int64_t ui) {
      const Unit& u = units[ui];
      const SparseRow& r = rows[u.row];
      const int64_t n = u.c1 - u.c0;
      float* key = rank.data() + r.rank + (u.c0 - r.first_col());
      for (int64_t h = 0; h < G; ++h) {
        float* e = ub.data() + r.ub + h * r.cols + u.c0;
        expf_ggml(e, n, best[u.row * G + h]);
        if (h == 0) {
          std::copy(e, e + n, key);
        } else {
          add_inplace(key, e, n);
        }
      }
    });
  }
  // Per row: rank the blocks, take the best that fit the budget, and write
  // sinks + blocks + window as spans.
  std::vector<std::vector<KeySpan>> row_spans(rows.size());
  parallel_for(static_cast<int64_t>(rows.size()), [&](int64_t ri) {
    thread_local std::vector<uint64_t> order;
    thread_local std::vector<int64_t> taken;
    thread_local std::vector<std::pair<int64_t, int64_t>> segs;  // chosen [begin, end) between sinks and window
    const SparseRow& r = rows[ri];
    std::vector<KeySpan>& out = row_spans[ri];
    out.clear();
    if (cfg.sinks > 0) out.push_back({0, static_cast<int32_t>(cfg.sinks)});
    const int64_t nb = r.blk1 - r.blk0;
    taken.clear();
    segs.clear();
    if (nb > 0) {
      const float* key = rank.data() + r.rank;
      // Highest rank first, the later block first among equals: (rank bits,
      // index) in one integer (ranks are sums of exponentials, >= +0, whose
      // bits order as their values). Only the blocks the budget can take
      // are sorted up front; the rest only if short blocks leave room.
      order.resize(nb);
      for (int64_t j = 0; j < nb; ++j) {
        order[j] = static_cast<uint64_t>(std::bit_cast<uint32_t>(key[j])) << 32 | static_cast<uint64_t>(j);
      }
      auto length = [&](uint64_t e) {
        const int64_t blk = r.blk0 + static_cast<int64_t>(e & 0xffffffffu);
        return std::min(r.mid1, (blk + 1) * kBlock) - std::max(r.mid0, blk * kBlock);
      };
      int64_t left = cfg.budget - cfg.sinks - window;
      int64_t sorted = std::min(nb, left / kBlock + 2), end = nb;
      std::partial_sort(order.begin(), order.begin() + sorted, order.end(), std::greater<>());
      for (int64_t i = 0; i < end; ++i) {
        if (i == sorted) {
          // What the budget has left room for: blocks no longer than it
          // (usually only a block cut at the sinks or the window).
          end = std::partition(order.begin() + i, order.begin() + end, [&](uint64_t e) { return length(e) <= left; }) -
                order.begin();
          std::sort(order.begin() + i, order.begin() + end, std::greater<>());
          sorted = end;
          if (i == end) break;
        }
        const int64_t blk = r.blk0 + static_cast<int64_t>(order[i] & 0xffffffffu);
        const int64_t len = length(order[i]);
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
