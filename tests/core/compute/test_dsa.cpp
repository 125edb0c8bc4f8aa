// The lightning indexer's arithmetic (core/compute/dsa.cpp): the Hadamard
// rotation against the Sylvester matrix, LayerNorm against a double
// reference, and dsa_select's top-k against scores computed directly in
// double, for prefill batches and for one long decode query whose keys are
// shared out over the threads.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "core/compute/dsa.h"
#include "core/compute/thread_pool.h"

using namespace moerun;

TEST_CASE("dsa: the Hadamard rotation is the Sylvester matrix / sqrt(n), its own inverse") {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int64_t n : {1, 2, 4, 8, 64, 128}) {
    CAPTURE(n);
    std::vector<float> x(n), y(n);
    for (float& v : x) v = nd(rng);
    y = x;
    hadamard_inplace(y.data(), n);
    // H[i][j] = (-1)^popcount(i & j) / sqrt(n).
    for (int64_t i = 0; i < n; ++i) {
      double want = 0;
      for (int64_t j = 0; j < n; ++j) want += (__builtin_popcountll(i & j) % 2 ? -1.0 : 1.0) * x[j];
      want /= std::sqrt(static_cast<double>(n));
      CHECK(y[i] == doctest::Approx(want).epsilon(1e-5));
    }
    hadamard_inplace(y.data(), n);
    for (int64_t i = 0; i < n; ++i) CHECK(y[i] == doctest::Approx(x[i]).epsilon(1e-5));
  }
}

TEST_CASE("dsa: LayerNorm with weight and bias") {
  const std::vector<float> x{1, 2, 3, 4, 10, -2};
  const std::vector<float> w{1, 2, 1, 0.5f, 1, 1}, b{0, 0.5f, 0, 0, -1, 0};
  std::vector<float> y(x.size());
  layer_norm(x.data(), w.data(), b.data(), y.data(), 6, 1e-6f);
  double mean = 0, var = 0;
  for (float v : x) mean += v / 6.0;
  for (float v : x) var += (v - mean) * (v - mean) / 6.0;
  for (size_t i = 0; i < x.size(); ++i) {
    CHECK(y[i] == doctest::Approx((x[i] - mean) / std::sqrt(var + 1e-6) * w[i] + b[i]).epsilon(1e-5));
  }
}

TEST_CASE("dsa: top-k selection matches the scores computed directly, on any thread count") {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 1.f);
  const DsaShape s{4, 16, 40};
  const int64_t offset = 8, kd = offset + s.head_dim + 3;  // the indexer key sits inside a longer row
  KvCache kv({2, kd, 0}, 3000, 2);
  for (int64_t seq : {0, 1}) {
    kv.reserve(seq, 2500);
    for (int64_t p = 0; p < 2500; ++p) {
      for (int64_t i = 0; i < kd; ++i) kv.k(1, seq, p)[i] = nd(rng);
    }
    kv.set_len(seq, 2500);
  }
  auto check = [&](const Batch& batch) {
    std::vector<float> q(batch.size() * s.n_head * s.head_dim), w(batch.size() * s.n_head);
    for (float& x : q) x = nd(rng);
    for (float& x : w) x = nd(rng);
    KeySelection sel;
    dsa_select(batch, kv, 1, offset, s, q.data(), w.data(), sel);
    REQUIRE(static_cast<int64_t>(sel.offset.size()) == batch.size() + 1);
    for (int64_t b = 0; b < batch.size(); ++b) {
      const int64_t n = batch.pos[b] + 1;
      if (n <= s.top_k) {
        CHECK(sel.n_spans(b, 0) == 0);  // dense
        continue;
      }
      std::vector<double> score(n);
      for (int64_t p = 0; p < n; ++p) {
        const float* k = kv.k(1, batch.seq[b], p) + offset;
        for (int64_t h = 0; h < s.n_head; ++h) {
          double d = 0;
          for (int64_t i = 0; i < s.head_dim; ++i) d += double{q[(b * s.n_head + h) * s.head_dim + i]} * k[i];
          score[p] += w[b * s.n_head + h] * std::max(d, 0.0);
        }
      }
      // top_k distinct positions, none past pos, and none left out scoring
      // above one kept (up to float rounding; exact ties, e.g. every head's
      // ReLU off, may go either way).
      std::vector<double> sorted = score;
      std::sort(sorted.begin(), sorted.end(), std::greater<double>());
      const double cut = sorted[s.top_k - 1];
      std::vector<bool> kept(n, false);
      int64_t count = 0;
      for (int64_t i = 0; i < sel.n_spans(b, 0); ++i) {
        for (int64_t p = sel.row(b, 0)[i].begin; p < sel.row(b, 0)[i].end; ++p) {
          REQUIRE(p < n);
          CHECK_FALSE(kept[p]);
          kept[p] = true;
          ++count;
        }
      }
      CHECK(count == s.top_k);
      for (int64_t p = 0; p < n; ++p) {
        if (kept[p]) CHECK(score[p] >= cut - 1e-4);
        if (!kept[p]) CHECK(score[p] <= cut + 1e-4);
      }
    }
  };
  const int saved = moerun::threads();
  for (int threads : {1, 2}) {
    set_threads(threads);
    CAPTURE(threads);
    Batch prefill;  // many rows: one per work item; some below top_k
    for (int32_t p = 0; p < 70; ++p) prefill.add(1, p * 7, p % 2, true);
    check(prefill);
    Batch decode;  // one long row: its keys in chunks over the threads
    decode.add(1, 2499, 1, true);
    check(decode);
  }
  set_threads(saved);
}
