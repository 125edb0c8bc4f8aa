// Block-sparse attention (core/compute/block_sparse.cpp): the cache's key
// bounds are the per-channel max and min of every row written, whatever the
// batches; a query past the budget keeps the sinks, its window and whole
// blocks, exactly `budget` keys, and finds a block of keys planted to match
// it among thousands of random ones; gqa_attention with the cache's sparse
// configuration attends to exactly those keys; below the budget nothing
// changes.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>
#include <vector>

#include "core/compute/attention.h"
#include "core/compute/block_sparse.h"
#include "core/compute/thread_pool.h"

using namespace moerun;

namespace {

constexpr int64_t kBlock = KvCache::kBoundBlock;

// Writes positions [p0, p1) of seq with random keys (and values) through
// kv_store in batches of `step`, as a forward pass does.
void write_rows(KvCache& kv, int64_t layer, int32_t seq, int32_t p0, int32_t p1, int32_t step, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  const KvLayout& L = kv.layout();
  kv.reserve(seq, p1);
  for (int32_t a = p0; a < p1; a += step) {
    Batch b;
    std::vector<float> k, v;
    for (int32_t p = a; p < std::min(p1, a + step); ++p) {
      b.add(1, p, seq, false);
      for (int64_t i = 0; i < L.k_dim; ++i) k.push_back(nd(rng));
      for (int64_t i = 0; i < L.v_dim; ++i) v.push_back(nd(rng));
    }
    kv_store(b, kv, layer, k.data(), v.data());
    kv.set_len(seq, std::max<int64_t>(kv.seq_len(seq), b.pos.back() + 1));
  }
}

std::vector<int64_t> positions(const KeySelection& sel, int64_t b, int64_t g) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < sel.n_spans(b, g); ++i) {
    for (int64_t p = sel.row(b, g)[i].begin; p < sel.row(b, g)[i].end; ++p) out.push_back(p);
  }
  return out;
}

}  // namespace

TEST_CASE("block-sparse: key bounds are the max and min of every row written, batch by batch, rounded outward") {
  std::mt19937 rng(1);
  KvCache kv({2, 12, 4}, 512, 2);
  kv.set_sparse(block_sparse_config(128));
  REQUIRE(kv.has_key_bounds());
  write_rows(kv, 1, 1, 0, 50, 7, rng);  // blocks filled across batch boundaries
  write_rows(kv, 1, 1, 50, 51, 1, rng);  // then one decode step
  for (int64_t blk = 0; blk * kBlock < 51; ++blk) {
    constexpr int64_t kGroup = KvCache::kBoundGroup;
    const uint16_t* grp = kv.key_bound_group(1, 1, blk / kGroup) + blk % kGroup;
    auto f32 = [](uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); };
    for (int64_t i = 0; i < 12; ++i) {
      float hi = -INFINITY, lo = INFINITY;
      for (int64_t p = blk * kBlock; p < std::min<int64_t>(51, (blk + 1) * kBlock); ++p) {
        hi = std::max(hi, kv.k(1, 1, p)[i]);
        lo = std::min(lo, kv.k(1, 1, p)[i]);
      }
      // Bfloat16 rounded outward: still bounds, and within one step (2^-7
      // relative) of the exact max and min.
      const float bhi = f32(grp[i * kGroup]), blo = f32(grp[(12 + i) * kGroup]);
      CHECK(bhi >= hi);
      CHECK(blo <= lo);
      CHECK(bhi - hi <= std::fabs(hi) * 0x1p-7f);
      CHECK(lo - blo <= std::fabs(lo) * 0x1p-7f);
    }
  }
  // Without --sparse-attn no bounds are kept.
  KvCache plain({2, 12, 4}, 512, 1);
  CHECK_FALSE(plain.has_key_bounds());
}

TEST_CASE("block-sparse: sinks, window and whole blocks, exactly the budget; a planted block is found") {
  std::mt19937 rng(2);
  const GqaShape s{4, 2, 32, 32, 1.0f / std::sqrt(32.0f), false};
  const int64_t budget = 256, n = 3000;
  KvCache kv({1, 2 * 32, 2 * 32}, 4096, 1);
  const SparseAttnConfig cfg = block_sparse_config(budget);
  kv.set_sparse(cfg);
  write_rows(kv, 0, 0, 0, n, 512, rng);
  // Queries: row 0 at pos 100 (below the budget), rows 1 and 2 at the end.
  Batch b;
  b.add(1, 100, 0, true);
  b.add(1, static_cast<int32_t>(n - 2), 0, true);
  b.add(1, static_cast<int32_t>(n - 1), 0, true);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> q(3 * 4 * 32);
  for (float& x : q) x = nd(rng);
  // Plant, for KV head 1, a block whose keys line up with row 2's first head
  // of that group (head 2): its bound and its scores stand out.
  const int64_t planted = 1203 / kBlock;
  for (int64_t p = planted * kBlock; p < (planted + 1) * kBlock; ++p) {
    for (int64_t i = 0; i < 32; ++i) kv.k(0, 0, p)[32 + i] = 3.0f * q[2 * 128 + 2 * 32 + i];
  }
  Batch touch;
  touch.add(1, static_cast<int32_t>(planted * kBlock), 0, false);
  update_key_bounds(touch, kv, 0);

  KeySelection sel;
  REQUIRE(select_blocks(b, kv, 0, s, q.data(), sel));
  CHECK(sel.n_spans(0, 0) == 0);  // below the budget: dense
  CHECK(sel.n_spans(0, 1) == 0);
  for (int64_t r = 1; r < 3; ++r) {
    for (int64_t g = 0; g < 2; ++g) {
      CAPTURE(r);
      CAPTURE(g);
      const std::vector<int64_t> p = positions(sel, r, g);
      CHECK(static_cast<int64_t>(p.size()) == budget);
      CHECK(std::is_sorted(p.begin(), p.end()));
      CHECK(std::adjacent_find(p.begin(), p.end()) == p.end());
      CHECK(p.back() == b.pos[r]);
      for (int64_t i = 0; i < cfg.sinks; ++i) CHECK(p[i] == i);
      // The window: the last cfg.window positions.
      CHECK(p[p.size() - cfg.window] == b.pos[r] - cfg.window + 1);
    }
  }
  const std::vector<int64_t> p2 = positions(sel, 2, 1);
  CHECK(std::count_if(p2.begin(), p2.end(), [&](int64_t x) { return x / kBlock == planted; }) == kBlock);

  // The baseline keeps the sinks and the latest budget - sinks positions.
  KvCache base({1, 2 * 32, 2 * 32}, 4096, 1);
  base.set_sparse(block_sparse_config(budget, false));
  write_rows(base, 0, 0, 0, n, 1000, rng);
  KeySelection bsel;
  REQUIRE(select_blocks(b, base, 0, s, q.data(), bsel));
  const std::vector<int64_t> pb = positions(bsel, 2, 0);
  REQUIRE(static_cast<int64_t>(pb.size()) == budget);
  CHECK(pb[3] == 3);
  CHECK(pb[4] == n - (budget - 4));
}

TEST_CASE("block-sparse: attention with --sparse-attn attends to exactly the chosen keys") {
  std::mt19937 rng(4);
  const GqaShape s{16, 1, 40, 32, 0.15f, true};  // MLA-like: values in the keys
  KvCache kv({1, 40, 0}, 2048, 1);
  kv.set_sparse(block_sparse_config(128));
  write_rows(kv, 0, 0, 0, 1500, 256, rng);
  Batch b;
  b.add(1, 90, 0, true);  // dense
  for (int32_t p = 1400; p < 1405; ++p) b.add(1, p, 0, true);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> q(b.size() * 16 * 40);
  for (float& x : q) x = nd(rng);
  const int saved = moerun::threads();
  for (int threads : {1, 2}) {
    set_threads(threads);
    KeySelection sel;
    REQUIRE(select_blocks(b, kv, 0, s, q.data(), sel));
    std::vector<float> implicit(b.size() * 16 * 32), explicit_(implicit.size());
    gqa_attention(b, kv, 0, s, q.data(), implicit.data());
    gqa_attention(b, kv, 0, s, q.data(), explicit_.data(), &sel);
    for (size_t i = 0; i < implicit.size(); ++i) CHECK(implicit[i] == explicit_[i]);
    // And the dense row is untouched by sparsity: the same as a cache without it.
    KvCache dense({1, 40, 0}, 2048, 1);
    dense.reserve(0, 1500);
    for (int64_t p = 0; p < 1500; ++p) std::copy(kv.k(0, 0, p), kv.k(0, 0, p) + 40, dense.k(0, 0, p));
    dense.set_len(0, 1500);
    std::vector<float> full(implicit.size());
    gqa_attention(b, dense, 0, s, q.data(), full.data());
    // (Not bit for bit: the dense row shares its tile with other rows there.)
    for (int64_t i = 0; i < 16 * 32; ++i) CHECK(full[i] == doctest::Approx(implicit[i]).epsilon(1e-5));
    bool differs = false;
    for (size_t i = 16 * 32; i < full.size(); ++i) differs = differs || full[i] != implicit[i];
    CHECK(differs);
  }
  set_threads(saved);
}
