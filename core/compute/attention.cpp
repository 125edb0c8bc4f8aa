#include "core/compute/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/compute/thread_pool.h"
#include "simd/float_ops.h"

namespace moerun {

void kv_store(const Batch& batch, KvCache& kv, int64_t layer, const float* k, const float* v) {
  const int64_t kd = kv.layout().k_dim;
  const int64_t vd = kv.layout().v_dim;
  for (int64_t b = 0; b < batch.size(); ++b) {
    std::memcpy(kv.k(layer, batch.seq[b], batch.pos[b]), k + b * kd, kd * sizeof(float));
    if (vd > 0) std::memcpy(kv.v(layer, batch.seq[b], batch.pos[b]), v + b * vd, vd * sizeof(float));
  }
}

namespace {

// Attention in tiles, as flash attention does it: a tile of query rows (a
// few tokens of one sequence x the query heads of one KV head) walks the
// keys one cache page at a time: scores by one small GEMM, an online
// softmax (running max and sum per row, earlier output rescaled), then the
// page's values by a second GEMM. Each key and value row is read once per
// tile instead of once per (token, head), the products run as register
// tiles (simd gemm_nt_f32 / gemm_nn_acc_f32), and memory stays
// O(tile x head size) at any context.
//
// Rows per tile: 64 keeps a tile's scratch (queries, output: 64 x 576 floats
// each for MLA) inside a 1 MiB L2 while each page of keys is reused by 64
// rows.
constexpr int64_t kTileRows = 64;
constexpr int64_t kPage = KvCache::kPageTokens;
// Keys per split when one tile's keys are shared out over threads (decode of
// a long sequence): below this a split costs more to merge than it saves.
constexpr int64_t kMinSplitKeys = 256;

// A run of consecutive batch rows of one sequence: the queries one tile may
// take together.
struct Run {
  int64_t b0 = 0, n = 0;
  int32_t seq = 0;
};

// One unit of work: tokens [t0, t0 + nt) of a run, KV head g, keys
// [k0, k1) of the sequence. part >= 0 marks a split tile whose partial
// result goes to the merge buffers.
struct Item {
  int64_t run = 0, t0 = 0, nt = 0, g = 0, k0 = 0, k1 = 0;
  int64_t part = -1;
};

// Running state of one tile: queries, scores, output, max and sum per row.
struct TileScratch {
  std::vector<float> q, s, o, m, l, rescale;
};

struct Plan {
  const Batch* batch;
  const KvCache* kv;
  int64_t layer;
  const GqaShape* shape;
  const float* q;
  float* out;
  int64_t group;  // query heads per KV head
};

// Rows of a tile are (token t, head h) pairs, token-major.
void run_tile(const Plan& p, const Run& run, const Item& it, TileScratch& ts, float* o_part, float* m_part,
              float* l_part) {
  const GqaShape& s = *p.shape;
  const int64_t dk = s.head_dim_k, dv = s.head_dim_v, G = p.group;
  const int64_t M = it.nt * G;
  const int64_t qd = s.n_head * dk, od = s.n_head * dv;
  ts.q.resize(M * dk);
  ts.s.resize(M * kPage);
  ts.o.assign(M * dv, 0.0f);
  ts.m.assign(M, -INFINITY);
  ts.l.assign(M, 0.0f);
  ts.rescale.resize(M);
  // Queries, scaled once here instead of every score.
  for (int64_t t = 0; t < it.nt; ++t) {
    const float* src = p.q + (run.b0 + it.t0 + t) * qd + it.g * G * dk;
    float* dst = ts.q.data() + t * G * dk;
    for (int64_t i = 0; i < G * dk; ++i) dst[i] = src[i] * s.scale;
  }
  const int32_t* pos = p.batch->pos.data() + run.b0 + it.t0;
  const int64_t stride = p.kv->row_stride();
  const int64_t koff = it.g * dk;
  const int64_t voff = s.values_in_keys ? it.g * dk : it.g * dv;
  for (int64_t k0 = it.k0; k0 < it.k1;) {
    const int64_t n = std::min(it.k1, (k0 / kPage + 1) * kPage) - k0;  // keys left in this page
    const float* krow = p.kv->k(p.layer, run.seq, k0) + koff;
    const float* vrow = (s.values_in_keys ? p.kv->k(p.layer, run.seq, k0) : p.kv->v(p.layer, run.seq, k0)) + voff;
    gemm_nt_f32(ts.q.data(), dk, M, krow, stride, n, dk, ts.s.data(), kPage);
    // Causal mask: token t sees keys up to its own position.
    for (int64_t t = 0; t < it.nt; ++t) {
      const int64_t first_masked = std::max<int64_t>(0, pos[t] + 1 - k0);
      if (first_masked >= n) continue;
      for (int64_t h = 0; h < G; ++h) {
        float* r = ts.s.data() + (t * G + h) * kPage;
        std::fill(r + first_masked, r + n, -INFINITY);
      }
    }
    softmax_block_f32(ts.s.data(), kPage, M, n, ts.m.data(), ts.l.data(), ts.rescale.data());
    for (int64_t i = 0; i < M; ++i) {
      if (ts.rescale[i] != 1.0f) {
        float* o = ts.o.data() + i * dv;
        for (int64_t d = 0; d < dv; ++d) o[d] *= ts.rescale[i];
      }
    }
    gemm_nn_acc_f32(ts.s.data(), kPage, M, vrow, stride, n, dv, ts.o.data(), dv);
    k0 += n;
  }
  if (it.part >= 0) {  // a share of the keys: kept unnormalised for the merge
    std::copy(ts.o.begin(), ts.o.end(), o_part);
    std::copy(ts.m.begin(), ts.m.end(), m_part);
    std::copy(ts.l.begin(), ts.l.end(), l_part);
    return;
  }
  for (int64_t t = 0; t < it.nt; ++t) {
    for (int64_t h = 0; h < G; ++h) {
      const int64_t i = t * G + h;
      const float inv = 1.0f / ts.l[i];
      float* dst = p.out + (run.b0 + it.t0 + t) * od + (it.g * G + h) * dv;
      const float* o = ts.o.data() + i * dv;
      for (int64_t d = 0; d < dv; ++d) dst[d] = o[d] * inv;
    }
  }
}

}  // namespace

void gqa_attention(const Batch& batch, const KvCache& kv, int64_t layer, const GqaShape& s, const float* q,
                   float* out) {
  const int64_t B = batch.size();
  const int64_t G = s.n_head / s.n_head_kv;
  const int64_t tile_tokens = std::max<int64_t>(1, kTileRows / G);
  std::vector<Run> runs;
  for (int64_t b = 0; b < B; ++b) {
    if (runs.empty() || batch.seq[b] != runs.back().seq) {
      runs.push_back({b, 0, batch.seq[b]});
    }
    runs.back().n += 1;
  }
  std::vector<Item> items;
  for (int64_t r = 0; r < static_cast<int64_t>(runs.size()); ++r) {
    for (int64_t t0 = 0; t0 < runs[r].n; t0 += tile_tokens) {
      const int64_t nt = std::min(tile_tokens, runs[r].n - t0);
      int64_t last = 0;  // keys 0..last cover every token of the tile
      for (int64_t t = 0; t < nt; ++t) last = std::max<int64_t>(last, batch.pos[runs[r].b0 + t0 + t]);
      for (int64_t g = 0; g < s.n_head_kv; ++g) items.push_back({r, t0, nt, g, 0, last + 1, -1});
    }
  }
  // Fewer tiles than threads (decode): share each tile's keys out over the
  // threads in page-aligned splits, then merge the partial softmaxes.
  const int64_t n_threads = threads();
  std::vector<Item> split;
  std::vector<int64_t> split_of;  // index in `items` of each split's tile
  if (static_cast<int64_t>(items.size()) < n_threads) {
    for (int64_t i = 0; i < static_cast<int64_t>(items.size()); ++i) {
      const Item& it = items[i];
      const int64_t n_keys = it.k1 - it.k0;
      const int64_t parts = std::min(n_threads, n_keys / kMinSplitKeys);
      if (parts < 2) continue;
      const int64_t per = (n_keys / parts + kPage - 1) / kPage * kPage;
      for (int64_t k = it.k0; k < it.k1; k += per) {
        Item sp = it;
        sp.k0 = k;
        sp.k1 = std::min(it.k1, k + per);
        sp.part = static_cast<int64_t>(split.size());
        split.push_back(sp);
        split_of.push_back(i);
      }
      items[i].nt = 0;  // done by its splits
    }
  }
  const Plan plan{&batch, &kv, layer, &s, q, out, G};
  const int64_t max_rows = tile_tokens * G;
  std::vector<float> o_parts(split.size() * max_rows * s.head_dim_v), m_parts(split.size() * max_rows),
      l_parts(split.size() * max_rows);
  std::vector<Item> work;
  for (const Item& it : items) {
    if (it.nt > 0) work.push_back(it);
  }
  work.insert(work.end(), split.begin(), split.end());
  parallel_for(static_cast<int64_t>(work.size()), [&](int64_t w) {
    thread_local TileScratch ts;
    const Item& it = work[w];
    const int64_t off = it.part >= 0 ? it.part * max_rows : 0;
    run_tile(plan, runs[it.run], it, ts, o_parts.data() + off * s.head_dim_v, m_parts.data() + off,
             l_parts.data() + off);
  });
  // Merge the splits of each tile (log-sum-exp): o = sum_p e^(m_p - m) o_p / sum_p e^(m_p - m) l_p.
  for (int64_t p0 = 0; p0 < static_cast<int64_t>(split.size());) {
    int64_t p1 = p0;
    while (p1 < static_cast<int64_t>(split.size()) && split_of[p1] == split_of[p0]) ++p1;
    const Item& it = items[split_of[p0]];
    const Run& run = runs[it.run];
    const int64_t dv = s.head_dim_v, od = s.n_head * dv;
    for (int64_t t = 0; t < split[p0].nt; ++t) {
      for (int64_t h = 0; h < G; ++h) {
        const int64_t i = t * G + h;
        float m = -INFINITY;
        for (int64_t p = p0; p < p1; ++p) m = std::max(m, m_parts[p * max_rows + i]);
        float* dst = out + (run.b0 + it.t0 + t) * od + (it.g * G + h) * dv;
        std::fill(dst, dst + dv, 0.0f);
        float l = 0;
        for (int64_t p = p0; p < p1; ++p) {
          const float mp = m_parts[p * max_rows + i];
          if (mp == -INFINITY) continue;
          const float c = std::exp(mp - m);
          l += c * l_parts[p * max_rows + i];
          axpy(dst, c, o_parts.data() + (p * max_rows + i) * dv, dv);
        }
        const float inv = 1.0f / l;
        for (int64_t d = 0; d < dv; ++d) dst[d] *= inv;
      }
    }
    p0 = p1;
  }
}

}  // namespace moerun
