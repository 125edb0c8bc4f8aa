#include "core/compute/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/compute/block_sparse.h"
#include "core/compute/op_profile.h"
#include "core/compute/thread_pool.h"
#include "core/error.h"
#include "simd/float_ops.h"
#include "simd/ggml_exp.h"

namespace moerun {

void kv_store(const Batch& batch, KvCache& kv, int64_t layer, const float* k, const float* v) {
  const int64_t kd = kv.layout().k_dim;
  const int64_t vd = kv.layout().v_dim;
  for (int64_t b = 0; b < batch.size(); ++b) {
    std::memcpy(kv.k(layer, batch.seq[b], batch.pos[b]), k + b * kd, kd * sizeof(float));
    if (vd > 0) std::memcpy(kv.v(layer, batch.seq[b], batch.pos[b]), v + b * vd, vd * sizeof(float));
  }
  if (kv.has_key_bounds()) update_key_bounds(batch, kv, layer);
}

namespace {

// Attention in tiles, as flash attention does it: a tile of query rows (a
// few tokens of one sequence x the query heads of one KV head) walks its
// keys a page's worth (kPage keys) at a time: scores by one small GEMM, an
// online softmax (running max and sum per row, earlier output rescaled),
// then the block's values by a second GEMM. Each key and value row is read
// once per tile instead of once per (token, head), the products run as
// register tiles (simd attn_scores_f32 / attn_values_f32), and memory stays
// O(tile x head size) at any context.
//
// A tile's keys are a list of spans: one span 0..last for dense tiles, the
// chosen positions for a sparse query (one token per tile: each query has
// its own positions). The GEMMs take key rows by pointer, so a block is
// filled from any number of spans, read in place: a sparse query's 16-key
// blocks or DSA's scattered top-k positions cost one softmax step and one
// pass over the output per kPage keys, like a dense page.
//
// Rows per tile: 64 keeps a tile's scratch (queries, output: 64 x 576 floats
// each for MLA) inside a 1 MiB L2 while each page of keys is reused by 64
// rows.
constexpr int64_t kTileRows = 64;
constexpr int64_t kPage = KvCache::kPageTokens;
// Keys per split when one tile's keys are shared out over threads (decode of
// a long sequence): below this a split costs more to merge than it saves.
constexpr int64_t kMinSplitKeys = 256;
// Exact tiles: below this many consecutive keys a run is gathered (a GEMM
// over a few keys costs about as much as copying them).
constexpr int64_t kGatherBelow = 8;

// A run of consecutive batch rows of one sequence: the queries one tile may
// take together.
struct Run {
  int64_t b0 = 0, n = 0;
  int32_t seq = 0;
};

// One unit of work: tokens [t0, t0 + nt) of a run, KV head g, the keys in
// spans [span0, span1) of the plan's span list. part >= 0 marks a share of
// a split tile whose partial result goes to the merge buffers.
struct Item {
  int64_t run = 0, t0 = 0, nt = 0, g = 0, span0 = 0, span1 = 0;
  int64_t part = -1;
  bool exact = false;      // run in ggml's order (run_tile_exact): a tile of at most kExactMaxKeys keys
  int64_t h0 = 0, nh = 0;  // exact tiles: query heads [h0, h0 + nh) of the group (nh 0: all)
};

// A tile of up to this many keys runs in ggml's order (run_tile_exact):
// every score, then the softmax over the whole row, then the values, each
// sum in double. It costs ~3x the online tile (double sums; measured
// bench_attention, MLA, 2048 keys), so longer rows, where llama.cpp itself
// runs flash attention, keep the online softmax; below it moerun agrees
// with llama.cpp to the last bit. With flash attention on (KvCache::
// flash_attn) every tile is online: ds2-lite Q4_0 pp512 attention 2.85 ->
// 1.2 ms per token.
constexpr int64_t kExactMaxKeys = 1024;

// Keys of an exact tile: n columns from column `col`, read in place from
// cache position k0 on (g0 < 0) or from gathered slot g0 on.
struct Segment {
  int64_t k0 = 0, n = 0, g0 = -1, col = 0;
};

// Running state of one tile: queries, scores, output, max and sum per row,
// and the gathered keys (values) of scattered positions.
struct TileScratch {
  std::vector<float> q, s, o, m, l, rescale, gk, gv;
  std::vector<int32_t> gpos;
  std::vector<double> od;  // exact tiles: the output sums
  std::vector<Segment> segs;
  std::vector<int32_t> colpos;  // exact tiles: the cache position of each score column
  std::vector<const float*> kp, vp;  // online tiles: the rows of a block of keys and their values
  std::vector<int32_t> cpos;         // and their cache positions
};

struct Plan {
  const Batch* batch;
  const KvCache* kv;
  int64_t layer;
  const GqaShape* shape;
  const float* q;
  float* out;
  int64_t group;  // query heads per KV head
  const std::vector<KeySpan>* spans;
};

// Rows of a tile are (token t, head h) pairs, token-major. The simd ops take
// them as vector lanes (float_ops.h attn_*_f32): queries transposed, scores
// key-major, rows padded to a multiple of 16 (ldt).
void run_tile(const Plan& p, const Run& run, const Item& it, TileScratch& ts, float* o_part, float* m_part,
              float* l_part) {
  const GqaShape& s = *p.shape;
  const int64_t dk = s.head_dim_k, dv = s.head_dim_v, G = p.group;
  const int64_t M = it.nt * G, ldt = (M + 15) / 16 * 16;
  const int64_t qd = s.n_head * dk, od = s.n_head * dv;
  ts.q.assign(dk * ldt, 0.0f);  // padding rows: zero queries, finite scores
  ts.s.resize(kPage * ldt);
  ts.o.assign(M * dv, 0.0f);
  ts.m.assign(ldt, -INFINITY);
  ts.l.assign(ldt, 0.0f);
  ts.rescale.resize(ldt);
  // Queries, scaled once here instead of every score.
  for (int64_t t = 0; t < it.nt; ++t) {
    transpose_queries(p.q + (run.b0 + it.t0 + t) * qd + it.g * G * dk, G, dk, ts.q.data() + t * G, ldt);
  }
  for (float& x : ts.q) x *= s.scale;
  const int32_t* pos = p.batch->pos.data() + run.b0 + it.t0;
  int32_t first_pos = pos[0];
  for (int64_t t = 1; t < it.nt; ++t) first_pos = std::min(first_pos, pos[t]);
  const int64_t koff = it.g * dk;
  const int64_t voff = s.values_in_keys ? it.g * dk : it.g * dv;

  // One block of n keys: rows ts.kp[j] / ts.vp[j], column j at cache
  // position ts.cpos[j].
  auto attend = [&](int64_t n) {
    // Separate value rows (GQA) come in while the scores run.
    attn_scores_f32(ts.q.data(), ldt, M, ts.kp.data(), n, dk, ts.s.data(), s.values_in_keys ? nullptr : ts.vp.data(),
                    dv);
    // Causal mask: token t sees keys up to its own position.
    for (int64_t j = 0; j < n; ++j) {
      if (ts.cpos[j] <= first_pos) continue;
      float* col = ts.s.data() + j * ldt;
      for (int64_t t = 0; t < it.nt; ++t) {
        if (ts.cpos[j] > pos[t]) std::fill(col + t * G, col + (t + 1) * G, -INFINITY);
      }
    }
    attn_softmax_f32(ts.s.data(), ldt, M, n, ts.m.data(), ts.l.data(), ts.rescale.data());
    for (int64_t i = 0; i < M; ++i) {
      if (ts.rescale[i] != 1.0f) {
        float* o = ts.o.data() + i * dv;
        for (int64_t d = 0; d < dv; ++d) o[d] *= ts.rescale[i];
      }
    }
    attn_values_f32(ts.s.data(), ldt, M, ts.vp.data(), n, dv, ts.o.data(), dv);
  };

  // The keys in blocks of kPage, whatever runs they come from: a sparse
  // query's 16-key blocks share one softmax step and one pass over the
  // output instead of one each.
  ts.kp.resize(kPage);
  ts.vp.resize(kPage);
  ts.cpos.resize(kPage);
  int64_t n = 0;
  const KeySpan* spans = p.spans->data();
  for (int64_t si = it.span0; si < it.span1; ++si) {
    for (int64_t k = spans[si].begin; k < spans[si].end; ++k) {
      const float* row = p.kv->k(p.layer, run.seq, k);
      ts.kp[n] = row + koff;
      ts.vp[n] = (s.values_in_keys ? row : p.kv->v(p.layer, run.seq, k)) + voff;
      ts.cpos[n] = static_cast<int32_t>(k);
      if (++n == kPage) {
        attend(n);
        n = 0;
      }
    }
  }
  if (n > 0) attend(n);
  if (it.part >= 0) {  // a share of the keys: kept unnormalised for the merge
    std::copy(ts.o.begin(), ts.o.end(), o_part);
    std::copy_n(ts.m.begin(), M, m_part);  // not the padding rows
    std::copy_n(ts.l.begin(), M, l_part);
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

// The same tile in ggml's order (its CPU attention with flash attention off,
// the oracle's): scores q.k (float products summed in double), times the
// scale, masked, softmax over the whole row (ggml's exponential, sums in
// double, one float reciprocal), then each output element sums probability x value in
// double, key by key. Bit-identical on every ISA (simd attn_*_exact), so a
// tiny model whose next int8 quantization sits on a rounding boundary goes
// the same way in both engines.
void run_tile_exact(const Plan& p, const Run& run, const Item& it, TileScratch& ts) {
  const GqaShape& s = *p.shape;
  const int64_t dk = s.head_dim_k, dv = s.head_dim_v;
  const int64_t G = it.nh > 0 ? it.nh : p.group;  // heads of this tile
  const int64_t h_first = it.g * p.group + it.h0;  // its first query head
  const int64_t M = it.nt * G;
  const int64_t qd = s.n_head * dk, od = s.n_head * dv;
  // Queries transposed (column i is tile row i), unscaled: ggml scales the scores.
  ts.q.resize(dk * M);
  for (int64_t t = 0; t < it.nt; ++t) {
    transpose_queries(p.q + (run.b0 + it.t0 + t) * qd + h_first * dk, G, dk, ts.q.data() + t * G, M);
  }
  const int32_t* pos = p.batch->pos.data() + run.b0 + it.t0;
  const int64_t stride = p.kv->row_stride();
  const int64_t koff = it.g * dk;
  const int64_t voff = s.values_in_keys ? it.g * dk : it.g * dv;

  // The keys as segments in position order; short runs gathered.
  ts.segs.clear();
  int64_t ng = 0, cols = 0;
  const KeySpan* spans = p.spans->data();
  for (int64_t si = it.span0; si < it.span1; ++si) {
    for (int64_t k0 = spans[si].begin; k0 < spans[si].end;) {
      const int64_t n = std::min<int64_t>(spans[si].end, (k0 / kPage + 1) * kPage) - k0;
      if (n >= kGatherBelow) {
        ts.segs.push_back({k0, n, -1, cols});
      } else {
        if (ts.segs.empty() || ts.segs.back().g0 < 0) ts.segs.push_back({0, 0, ng, cols});
        ts.segs.back().n += n;
        ts.gpos.resize(ng + n);
        ts.gk.resize((ng + n) * dk);
        if (!s.values_in_keys) ts.gv.resize((ng + n) * dv);
        for (int64_t k = k0; k < k0 + n; ++k, ++ng) {
          std::memcpy(ts.gk.data() + ng * dk, p.kv->k(p.layer, run.seq, k) + koff, dk * sizeof(float));
          if (!s.values_in_keys) {
            std::memcpy(ts.gv.data() + ng * dv, p.kv->v(p.layer, run.seq, k) + voff, dv * sizeof(float));
          }
          ts.gpos[ng] = static_cast<int32_t>(k);
        }
      }
      cols += n;
      k0 += n;
    }
  }
  ts.colpos.resize(cols);
  for (const Segment& g : ts.segs) {
    for (int64_t j = 0; j < g.n; ++j) ts.colpos[g.col + j] = g.g0 < 0 ? static_cast<int32_t>(g.k0 + j) : ts.gpos[g.g0 + j];
  }
  auto keys = [&](const Segment& g, const float*& krow, const float*& vrow, int64_t& kstride, int64_t& vstride) {
    if (g.g0 < 0) {
      krow = p.kv->k(p.layer, run.seq, g.k0) + koff;
      vrow = (s.values_in_keys ? p.kv->k(p.layer, run.seq, g.k0) : p.kv->v(p.layer, run.seq, g.k0)) + voff;
      kstride = vstride = stride;
    } else {
      krow = ts.gk.data() + g.g0 * dk;
      vrow = s.values_in_keys ? krow : ts.gv.data() + g.g0 * dv;
      kstride = dk;
      vstride = s.values_in_keys ? dk : dv;
    }
  };

  ts.s.resize(M * cols);
  for (const Segment& g : ts.segs) {
    const float *krow, *vrow;
    int64_t kstride, vstride;
    keys(g, krow, vrow, kstride, vstride);
    attn_scores_exact(ts.q.data(), M, M, krow, kstride, g.n, dk, ts.s.data() + g.col, cols);
  }
  // Dense tiles (prefill) hold positions 0, 1, ... cols - 1 in order: their
  // softmax groups of 4 cells are 4 consecutive columns.
  const bool from_zero = std::all_of(ts.segs.begin(), ts.segs.end(), [](const Segment& g) { return g.g0 < 0 && g.k0 == g.col; });
  for (int64_t t = 0; t < it.nt; ++t) {
    for (int64_t h = 0; h < G; ++h) {
      float* r = ts.s.data() + (t * G + h) * cols;
      float mx = -INFINITY;
      for (int64_t j = 0; j < cols; ++j) {
        r[j] = ts.colpos[j] > pos[t] ? -INFINITY : r[j] * s.scale;
        mx = std::max(mx, r[j]);
      }
      // ggml's softmax over the cache cells (a multiple of 4, cell = position):
      // ggml_v_expf, each group of 4 cells summed in float and added to a
      // double; cells not attended to count 0.
      expf_ggml(r, cols, mx);
      double sum = 0;
      if (from_zero) {
        const int64_t n4 = cols & ~int64_t{3};
        for (int64_t j = 0; j < n4; j += 4) sum += ggml_exp::sum4(r + j);
        float group[4] = {};
        std::copy(r + n4, r + cols, group);
        sum += ggml_exp::sum4(group);
      } else {
        float group[4] = {};
        int64_t cur = -1;
        for (int64_t j = 0; j < cols; ++j) {
          const int32_t at = ts.colpos[j];
          if (at / 4 != cur) {
            if (cur >= 0) sum += ggml_exp::sum4(group);
            group[0] = group[1] = group[2] = group[3] = 0.0f;
            cur = at / 4;
          }
          group[at % 4] = r[j];
        }
        sum += ggml_exp::sum4(group);
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < cols; ++j) r[j] *= inv;
    }
  }
  ts.od.assign(M * dv, 0.0);
  for (const Segment& g : ts.segs) {
    const float *krow, *vrow;
    int64_t kstride, vstride;
    keys(g, krow, vrow, kstride, vstride);
    attn_values_exact(ts.s.data() + g.col, cols, M, vrow, vstride, g.n, dv, ts.od.data(), dv);
  }
  for (int64_t t = 0; t < it.nt; ++t) {
    for (int64_t h = 0; h < G; ++h) {
      float* dst = p.out + (run.b0 + it.t0 + t) * od + (h_first + h) * dv;
      const double* o = ts.od.data() + (t * G + h) * dv;
      for (int64_t d = 0; d < dv; ++d) dst[d] = static_cast<float>(o[d]);
    }
  }
}

int64_t span_keys(const std::vector<KeySpan>& spans, int64_t s0, int64_t s1) {
  int64_t n = 0;
  for (int64_t i = s0; i < s1; ++i) n += spans[i].end - spans[i].begin;
  return n;
}

}  // namespace

void gqa_attention(const Batch& batch, const KvCache& kv, int64_t layer, const GqaShape& s, const float* q,
                   float* out, const KeySelection* sel) {
  OpScope op("attention");
  const int64_t B = batch.size();
  const int64_t G = s.n_head / s.n_head_kv;
  const int64_t tile_tokens = std::max<int64_t>(1, kTileRows / G);
  if (sel != nullptr && (sel->n_head_kv != s.n_head_kv || static_cast<int64_t>(sel->offset.size()) != B * s.n_head_kv + 1)) {
    fail_runtime("attention: a key selection for " + std::to_string(sel->offset.size() - 1) + " (row, KV head) pairs, " +
                 std::to_string(B * s.n_head_kv) + " expected");
  }
  KeySelection chosen;
  if (sel == nullptr && kv.sparse().budget > 0 && select_blocks(batch, kv, layer, s, q, chosen)) sel = &chosen;

  std::vector<Run> runs;
  for (int64_t b = 0; b < B; ++b) {
    if (runs.empty() || batch.seq[b] != runs.back().seq) {
      runs.push_back({b, 0, batch.seq[b]});
    }
    runs.back().n += 1;
  }
  std::vector<KeySpan> spans;
  std::vector<Item> items;
  const int64_t exact_max = kv.flash_attn() ? 0 : kExactMaxKeys;
  auto sparse_row = [&](int64_t b, int64_t g) { return sel != nullptr && sel->n_spans(b, g) > 0; };
  for (int64_t r = 0; r < static_cast<int64_t>(runs.size()); ++r) {
    const Run& run = runs[r];
    for (int64_t g = 0; g < s.n_head_kv; ++g) {
      // Dense tokens go in tiles of consecutive tokens; each sparse token is
      // a tile of its own over its spans.
      int64_t t0 = -1;
      auto close_dense = [&](int64_t t1) {
        if (t0 < 0) return;
        for (int64_t a = t0; a < t1; a += tile_tokens) {
          const int64_t nt = std::min(tile_tokens, t1 - a);
          int32_t last = 0;  // keys 0..last cover every token of the tile
          for (int64_t t = 0; t < nt; ++t) last = std::max(last, batch.pos[run.b0 + a + t]);
          const int64_t sp = static_cast<int64_t>(spans.size());
          spans.push_back({0, last + 1});
          items.push_back({r, a, nt, g, sp, sp + 1, -1, last + 1 <= exact_max});
        }
        t0 = -1;
      };
      for (int64_t t = 0; t < run.n; ++t) {
        const int64_t b = run.b0 + t;
        if (!sparse_row(b, g)) {
          if (t0 < 0) t0 = t;
          continue;
        }
        close_dense(t);
        const int64_t sp = static_cast<int64_t>(spans.size());
        spans.insert(spans.end(), sel->row(b, g), sel->row(b, g) + sel->n_spans(b, g));
        const int64_t se = static_cast<int64_t>(spans.size());
        items.push_back({r, t, 1, g, sp, se, -1, span_keys(spans, sp, se) <= exact_max});
      }
      close_dense(run.n);
    }
  }
  // Fewer tiles than threads (decode): share each tile's keys out over the
  // threads in splits of about equal size (page-aligned for dense tiles),
  // then merge the partial softmaxes.
  const int64_t n_threads = threads();
  std::vector<Item> split;
  std::vector<int64_t> split_of;  // index in `items` of each split's tile
  if (static_cast<int64_t>(items.size()) < n_threads) {
    const int64_t n_items = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n_items; ++i) {
      const Item it = items[i];
      if (it.exact) {
        // An exact tile's softmax spans all its keys, so it shares out its
        // query heads instead (each thread reads every key).
        const int64_t parts = std::min(n_threads, G);
        if (parts < 2) continue;
        for (int64_t k = 0; k < parts; ++k) {
          Item hp = it;
          hp.h0 = G * k / parts;
          hp.nh = G * (k + 1) / parts - hp.h0;
          items.push_back(hp);
        }
        items[i].nt = 0;
        continue;
      }
      const int64_t n_keys = span_keys(spans, it.span0, it.span1);
      const int64_t parts = std::min(n_threads, n_keys / kMinSplitKeys);
      if (parts < 2) continue;
      int64_t per = (n_keys + parts - 1) / parts;
      if (it.span1 - it.span0 == 1) per = (per + kPage - 1) / kPage * kPage;
      // Cut the spans into shares of `per` keys each.
      int64_t si = it.span0, at = spans[si].begin;
      while (si < it.span1) {
        Item sp = it;
        sp.span0 = static_cast<int64_t>(spans.size());
        for (int64_t want = per; want > 0 && si < it.span1;) {
          const int64_t take = std::min<int64_t>(want, spans[si].end - at);
          spans.push_back({static_cast<int32_t>(at), static_cast<int32_t>(at + take)});
          want -= take;
          at += take;
          if (at == spans[si].end && ++si < it.span1) at = spans[si].begin;
        }
        sp.span1 = static_cast<int64_t>(spans.size());
        sp.part = static_cast<int64_t>(split.size());
        split.push_back(sp);
        split_of.push_back(i);
      }
      items[i].nt = 0;  // done by its splits
    }
  }
  const Plan plan{&batch, &kv, layer, &s, q, out, G, &spans};
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
    if (it.exact) {
      run_tile_exact(plan, runs[it.run], it, ts);
      return;
    }
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
