// Tiled attention (core/compute/attention.cpp) against a direct double
// precision softmax(q k^T) v: prefill tiles over several cache pages,
// multi-sequence decode batches, tiles whose tokens straddle a page, MLA's
// values-in-keys rows, and a long single-token decode whose keys are split
// over threads and merged.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/compute/attention.h"
#include "core/compute/thread_pool.h"

using namespace moerun;

namespace {

// out[b] for every row of `batch`, computed head by head in double.
std::vector<float> reference(const Batch& batch, const KvCache& kv, int64_t layer, const GqaShape& s,
                             const std::vector<float>& q) {
  const int64_t G = s.n_head / s.n_head_kv, qd = s.n_head * s.head_dim_k, od = s.n_head * s.head_dim_v;
  std::vector<float> out(batch.size() * od);
  for (int64_t b = 0; b < batch.size(); ++b) {
    const int64_t n = batch.pos[b] + 1;
    for (int64_t h = 0; h < s.n_head; ++h) {
      const int64_t g = h / G;
      std::vector<double> w(n);
      double mx = -INFINITY;
      for (int64_t p = 0; p < n; ++p) {
        const float* k = kv.k(layer, batch.seq[b], p) + g * s.head_dim_k;
        double d = 0;
        for (int64_t i = 0; i < s.head_dim_k; ++i) d += double{q[b * qd + h * s.head_dim_k + i]} * k[i];
        w[p] = d * s.scale;
        mx = std::max(mx, w[p]);
      }
      double sum = 0;
      for (double& x : w) sum += (x = std::exp(x - mx));
      for (int64_t i = 0; i < s.head_dim_v; ++i) {
        double acc = 0;
        for (int64_t p = 0; p < n; ++p) {
          const float* v = s.values_in_keys ? kv.k(layer, batch.seq[b], p) + g * s.head_dim_k
                                            : kv.v(layer, batch.seq[b], p) + g * s.head_dim_v;
          acc += w[p] * v[i];
        }
        out[b * od + h * s.head_dim_v + i] = static_cast<float>(acc / sum);
      }
    }
  }
  return out;
}

void fill_cache(KvCache& kv, int64_t seq, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  kv.reserve(seq, n);
  const KvLayout& L = kv.layout();
  for (int64_t l = 0; l < L.n_layer; ++l) {
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t i = 0; i < L.k_dim; ++i) kv.k(l, seq, p)[i] = nd(rng);
      for (int64_t i = 0; i < L.v_dim; ++i) kv.v(l, seq, p)[i] = nd(rng);
    }
  }
  kv.set_len(seq, n);
}

void check(const Batch& batch, const KvCache& kv, const GqaShape& s, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> q(batch.size() * s.n_head * s.head_dim_k);
  for (float& x : q) x = nd(rng);
  const std::vector<float> want = reference(batch, kv, 1, s, q);
  std::vector<float> got(want.size(), NAN);
  gqa_attention(batch, kv, 1, s, q.data(), got.data());
  for (size_t i = 0; i < want.size(); ++i) REQUIRE(std::fabs(got[i] - want[i]) <= 1e-5f * (1 + std::fabs(want[i])));
}

}  // namespace

TEST_CASE("attention: tiles, multi-sequence decode and split keys agree with a direct softmax") {
  std::mt19937 rng(5);
  const int saved = moerun::threads();
  for (int threads : {1, 2}) {
    set_threads(threads);
    CAPTURE(threads);
    SUBCASE("GQA prefill over several pages, then a straddling chunk") {
      const GqaShape s{8, 2, 16, 12, 0.25f, false};
      KvCache kv({2, 2 * 16, 2 * 12}, 512, 1);
      fill_cache(kv, 0, 300, rng);
      Batch b;
      for (int32_t p = 0; p < 200; ++p) b.add(1, p, 0, true);
      check(b, kv, s, rng);
      b.clear();
      for (int32_t p = 250; p < 300; ++p) b.add(1, p, 0, true);  // crosses the page at 256
      check(b, kv, s, rng);
    }
    SUBCASE("MLA-shaped: one KV head, values inside the key rows") {
      const GqaShape s{16, 1, 72, 64, 0.1f, true};
      KvCache kv({2, 72, 0}, 256, 1);
      fill_cache(kv, 0, 130, rng);
      Batch b;
      for (int32_t p = 0; p < 130; ++p) b.add(1, p, 0, p % 2 == 0);
      check(b, kv, s, rng);
    }
    SUBCASE("one decode token of each of several sequences") {
      const GqaShape s{4, 4, 32, 32, 0.2f, false};
      KvCache kv({2, 4 * 32, 4 * 32}, 256, 3);
      for (int64_t q = 0; q < 3; ++q) fill_cache(kv, q, 40 + 70 * q, rng);
      Batch b;
      b.add(1, 39, 0, true);
      b.add(1, 109, 1, true);
      b.add(1, 179, 2, true);
      check(b, kv, s, rng);
    }
    SUBCASE("a long single-token decode: keys split over threads, then merged") {
      const GqaShape s{16, 1, 72, 64, 0.1f, true};
      KvCache kv({2, 72, 0}, 2048, 1);
      fill_cache(kv, 0, 1500, rng);
      Batch b;
      b.add(1, 1499, 0, true);
      check(b, kv, s, rng);
    }
  }
  set_threads(saved);
}
