#include "core/compute/dsa.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/compute/op_profile.h"
#include "core/compute/thread_pool.h"
#include "simd/float_ops.h"

namespace moerun {

void hadamard_inplace(float* x, int64_t n) {
  // Butterflies over strides 1, 2, 4, ...: H_n = H_2 (x) H_(n/2), Sylvester order.
  for (int64_t h = 1; h < n; h *= 2) {
    for (int64_t i = 0; i < n; i += 2 * h) {
      for (int64_t j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
  const float norm = 1.0f / std::sqrt(static_cast<float>(n));
  for (int64_t i = 0; i < n; ++i) x[i] *= norm;
}

void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps) {
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  double var = 0;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= static_cast<double>(n);
  const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
  for (int64_t i = 0; i < n; ++i) {
    float v = static_cast<float>(x[i] - mean) * inv;
    if (w != nullptr) v *= w[i];
    if (b != nullptr) v += b[i];
    y[i] = v;
  }
}

namespace {

constexpr int64_t kPage = KvCache::kPageTokens;
// Positions per work item when the keys of one query are shared out over
// the threads (decode of a long sequence): 16 pages.
constexpr int64_t kChunk = 16 * kPage;

struct Scorer {
  const KvCache* kv;
  int64_t layer, key_offset;
  const DsaShape* s;

  // out[j] = score of position p0 + j for the query (q, w) of sequence seq,
  // for positions [p0, p1), a page at a time: one small GEMM of the heads
  // against the page's keys, then the weighted ReLU sum over the heads (in
  // head order, as the reference sums).
  void score(const float* q, const float* w, int32_t seq, int64_t p0, int64_t p1, float* out,
             std::vector<float>& tmp) const {
    const int64_t H = s->n_head, D = s->head_dim;
    tmp.resize(H * kPage);
    for (int64_t k0 = p0; k0 < p1;) {
      const int64_t n = std::min(p1, (k0 / kPage + 1) * kPage) - k0;
      gemm_nt_f32(q, D, H, kv->k(layer, seq, k0) + key_offset, kv->row_stride(), n, D, tmp.data(), kPage);
      // Head by head over the page's keys (the loop the compiler vectorises);
      // each key still sums its heads in order.
      float* o = out + (k0 - p0);
      std::fill(o, o + n, 0.0f);
      for (int64_t h = 0; h < H; ++h) {
        const float* t = tmp.data() + h * kPage;
        const float wh = w[h];
        for (int64_t j = 0; j < n; ++j) o[j] += std::max(t[j], 0.0f) * wh;
      }
      k0 += n;
    }
  }
};

// The k highest of score[0..n), ascending. Scores tie exactly when every
// head's ReLU is off (score 0); which of the tied positions make the cut
// then follows std::partial_sort over the positions in order, as llama.cpp's
// top_k does, so both engines keep the same keys.
void top_k(const float* score, int64_t n, int64_t k, std::vector<int32_t>& idx) {
  idx.resize(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [score](int32_t a, int32_t b) { return score[a] > score[b]; });
  idx.resize(static_cast<size_t>(k));
  std::sort(idx.begin(), idx.end());
}

}  // namespace

void dsa_select(const Batch& batch, const KvCache& kv, int64_t layer, int64_t key_offset, const DsaShape& s,
                const float* q, const float* w, KeySelection& sel) {
  OpScope op("dsa.select");
  const int64_t B = batch.size(), H = s.n_head, D = s.head_dim;
  const Scorer scorer{&kv, layer, key_offset, &s};
  std::vector<int64_t> rows;  // rows that keep a subset
  for (int64_t b = 0; b < B; ++b) {
    if (batch.pos[b] + 1 > s.top_k) rows.push_back(b);
  }
  std::vector<std::vector<int32_t>> chosen(static_cast<size_t>(B));
  const int64_t n_rows = static_cast<int64_t>(rows.size());
  if (n_rows >= threads()) {
    // Many queries (prefill): one per item.
    parallel_for(n_rows, [&](int64_t r) {
      thread_local std::vector<float> scores, tmp;
      const int64_t b = rows[r], n = batch.pos[b] + 1;
      scores.resize(static_cast<size_t>(n));
      scorer.score(q + b * H * D, w + b * H, batch.seq[b], 0, n, scores.data(), tmp);
      top_k(scores.data(), n, s.top_k, chosen[b]);
    });
  } else if (n_rows > 0) {
    // A few long queries (decode): their keys in chunks over the threads.
    std::vector<int64_t> base(static_cast<size_t>(n_rows + 1), 0);
    std::vector<std::pair<int64_t, int64_t>> units;  // (row index, chunk start)
    for (int64_t r = 0; r < n_rows; ++r) {
      const int64_t n = batch.pos[rows[r]] + 1;
      base[r + 1] = base[r] + n;
      for (int64_t c = 0; c < n; c += kChunk) units.push_back({r, c});
    }
    std::vector<float> scores(static_cast<size_t>(base[n_rows]));
    parallel_for(static_cast<int64_t>(units.size()), [&](int64_t u) {
      thread_local std::vector<float> tmp;
      const auto [r, c] = units[u];
      const int64_t b = rows[r], n = batch.pos[b] + 1;
      scorer.score(q + b * H * D, w + b * H, batch.seq[b], c, std::min(n, c + kChunk), scores.data() + base[r] + c,
                   tmp);
    });
    for (int64_t r = 0; r < n_rows; ++r) top_k(scores.data() + base[r], base[r + 1] - base[r], s.top_k, chosen[rows[r]]);
  }
  sel.clear(1);
  for (int64_t b = 0; b < B; ++b) {
    for (int32_t p : chosen[b]) sel.add(p, p + 1);
    sel.close_row();
  }
}

}  // namespace moerun
