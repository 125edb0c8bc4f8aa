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
  // llama.cpp multiplies by the orthonormal Sylvester matrix, entries
  // +-(1/sqrtf(n)) in float: each product c * x_j rounds to float, then a
  // row sums them in double. Here the products are formed the same way and
  // summed by butterflies in double: a sum of n floats this size is exact
  // in double whatever the order (unless the values span more than ~2^22),
  // so both round to the same float.
  const float c = static_cast<float>(1.0 / std::sqrt(static_cast<float>(n)));
  thread_local std::vector<double> t;
  t.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) t[i] = static_cast<double>(c * x[i]);
  for (int64_t h = 1; h < n; h *= 2) {
    for (int64_t i = 0; i < n; i += 2 * h) {
      for (int64_t j = i; j < i + h; ++j) {
        const double a = t[j], b = t[j + h];
        t[j] = a + b;
        t[j + h] = a - b;
      }
    }
  }
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<float>(t[i]);
}

void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps) {
  // ggml_norm as its portable build runs it: the sum in double rounded to
  // float, a float mean, then the squares of x - mean added four at a time
  // in float ((s0 + s1) + (s2 + s3), its SSE2 loop) into a double.
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float mean = static_cast<float>(sum) / static_cast<float>(n);
  double acc = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    float s[4];
    for (int j = 0; j < 4; ++j) {
      const float v = x[i + j] - mean;
      y[i + j] = v;
      s[j] = v * v;
    }
    acc += static_cast<double>((s[0] + s[1]) + (s[2] + s[3]));
  }
  for (; i < n; ++i) {
    const float v = x[i] - mean;
    y[i] = v;
    acc += static_cast<double>(v * v);
  }
  const float variance = static_cast<float>(acc / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(variance + eps);
  for (int64_t j = 0; j < n; ++j) {
    float v = y[j] * scale;
    if (w != nullptr) v *= w[j];
    if (b != nullptr) v += b[j];
    y[j] = v;
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

  // out[j] = score of position p0 + j for the query of sequence seq (qt: its
  // heads transposed, transpose_queries; w: their weights), for positions
  // [p0, p1), a page at a time: the heads' dots with the page's keys, then
  // the weighted ReLU sum over the heads (in head order, as the reference
  // sums). The dots in ggml's order (attn_scores_exact, as its F32 matmul):
  // a score a last bit apart can swap two keys at the top-k cut.
  void score(const float* qt, const float* w, int32_t seq, int64_t p0, int64_t p1, float* out,
             std::vector<float>& tmp) const {
    const int64_t H = s->n_head, D = s->head_dim;
    tmp.resize(H * kPage);
    for (int64_t k0 = p0; k0 < p1;) {
      const int64_t n = std::min(p1, (k0 / kPage + 1) * kPage) - k0;
      attn_scores_exact(qt, H, H, kv->k(layer, seq, k0) + key_offset, kv->row_stride(), n, D, tmp.data(), kPage);
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
      thread_local std::vector<float> scores, tmp, qt;
      const int64_t b = rows[r], n = batch.pos[b] + 1;
      scores.resize(static_cast<size_t>(n));
      qt.resize(static_cast<size_t>(H * D));
      transpose_queries(q + b * H * D, H, D, qt.data(), H);
      scorer.score(qt.data(), w + b * H, batch.seq[b], 0, n, scores.data(), tmp);
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
    std::vector<float> qt(static_cast<size_t>(n_rows * H * D));  // each row's heads, transposed once
    for (int64_t r = 0; r < n_rows; ++r) transpose_queries(q + rows[r] * H * D, H, D, qt.data() + r * H * D, H);
    parallel_for(static_cast<int64_t>(units.size()), [&](int64_t u) {
      thread_local std::vector<float> tmp;
      const auto [r, c] = units[u];
      const int64_t b = rows[r], n = batch.pos[b] + 1;
      scorer.score(qt.data() + r * H * D, w + b * H, batch.seq[b], c, std::min(n, c + kChunk),
                   scores.data() + base[r] + c, tmp);
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
