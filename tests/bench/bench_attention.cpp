// Decode attention benchmark: one query against a long cache, dense and
// block-sparse, on 1 and on every thread, for MLA's absorbed shape
// (DeepSeek-V2-Lite: 16 heads over a 576-float latent row) and a GQA shape
// (Qwen3-30B-A3B: 32 query heads, 4 KV heads of 128). The cache holds
// `--layers` layers of random rows and each timed "token" attends once per
// layer, so like a model's decode it streams every layer's keys from memory
// instead of re-reading one layer from the caches.
// Validates first: the split-over-threads result against one thread, and
// the sparse result against attention over the same keys chosen explicitly.
// Prints ms per token and the ratios from the same run: wall time (median),
// and for one thread also CPU time, which a busy shared host disturbs less.
// Never gates CI.
//   bench_attention [--ctx 16384] [--budget 2048] [--layers 4] [--reps 10] [--threads 2]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <ctime>
#include <string>
#include <vector>

#include "core/compute/attention.h"
#include "core/compute/block_sparse.h"
#include "core/compute/thread_pool.h"
#include "simd/dispatch.h"

namespace {

using namespace moerun;
using Clock = std::chrono::steady_clock;

struct Shape {
  const char* name;
  GqaShape s;
};

int64_t arg(int argc, char** argv, const char* name, int64_t dflt) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::atoll(argv[i + 1]);
  }
  return dflt;
}

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Time {
  double wall = 0, cpu = 0;  // medians, seconds
};

// Medians of `reps` runs of fn.
template <class F>
Time median_time(int64_t reps, F&& fn) {
  std::vector<double> w, c;
  for (int64_t r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    fn();
    c.push_back(cpu_seconds() - c0);
    w.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(w.begin(), w.end());
  std::sort(c.begin(), c.end());
  return {w[w.size() / 2], c[c.size() / 2]};
}

float max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0, m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, std::fabs(a[i] - b[i]));
    m = std::max(m, std::fabs(b[i]));
  }
  return d / std::max(m, 1e-30f);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t ctx = arg(argc, argv, "--ctx", 16384), budget = arg(argc, argv, "--budget", 2048);
  const int64_t layers = arg(argc, argv, "--layers", 4), reps = arg(argc, argv, "--reps", 10);
  const int max_threads = static_cast<int>(arg(argc, argv, "--threads", threads()));
  if (budget >= ctx) {
    // Below its budget a query attends to every key: there is no sparse attention to time.
    std::fprintf(stderr, "bench_attention: --budget (%lld) must be below --ctx (%lld)\n", static_cast<long long>(budget),
                 static_cast<long long>(ctx));
    return 2;
  }
  std::printf("decode attention at ctx %lld, budget %lld, %lld layers, isa %s, median of %lld\n",
              static_cast<long long>(ctx), static_cast<long long>(budget), static_cast<long long>(layers),
              kernels().name, static_cast<long long>(reps));
  const Shape shapes[] = {
      {"MLA ds2-lite (16 x 576, values in keys)", {16, 1, 576, 512, 1.0f / std::sqrt(192.0f), true}},
      {"GQA qwen3-30b-a3b (32 q / 4 kv x 128)", {32, 4, 128, 128, 1.0f / std::sqrt(128.0f), false}},
  };
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (const Shape& sh : shapes) {
    const GqaShape& s = sh.s;
    const KvLayout L{layers, s.n_head_kv * s.head_dim_k, s.values_in_keys ? 0 : s.n_head_kv * s.head_dim_v};
    KvCache dense(L, ctx + 1, 1), sparse(L, ctx + 1, 1);
    sparse.set_sparse(block_sparse_config(budget));
    // Rows written through kv_store in prefill-sized batches, as a model does.
    for (KvCache* kv : {&dense, &sparse}) {
      kv->reserve(0, ctx);
      std::mt19937 same(11);
      std::normal_distribution<float> v(0.f, 1.f);
      for (int64_t l = 0; l < layers; ++l) {
        for (int64_t p0 = 0; p0 < ctx; p0 += 512) {
          Batch b;
          std::vector<float> k, vv;
          for (int64_t p = p0; p < std::min(ctx, p0 + 512); ++p) {
            b.add(0, static_cast<int32_t>(p), 0, false);
            for (int64_t i = 0; i < L.k_dim; ++i) k.push_back(v(same));
            for (int64_t i = 0; i < L.v_dim; ++i) vv.push_back(v(same));
          }
          kv_store(b, *kv, l, k.data(), vv.data());
        }
      }
      kv->set_len(0, ctx);
    }
    Batch q1;
    q1.add(0, static_cast<int32_t>(ctx - 1), 0, true);
    std::vector<float> q(s.n_head * s.head_dim_k);
    for (float& x : q) x = 3.0f * nd(rng);
    std::vector<float> out(s.n_head * s.head_dim_v), ref(out.size());

    // Validation.
    set_threads(1);
    gqa_attention(q1, dense, 0, s, q.data(), ref.data());
    set_threads(max_threads);
    gqa_attention(q1, dense, 0, s, q.data(), out.data());
    const float split_err = max_rel_diff(out, ref);
    KeySelection sel;
    select_blocks(q1, sparse, 0, s, q.data(), sel);
    gqa_attention(q1, sparse, 0, s, q.data(), out.data());
    gqa_attention(q1, dense, 0, s, q.data(), ref.data(), &sel);
    const float sparse_err = max_rel_diff(out, ref);
    std::printf("\n%s\n  checks: %d threads vs 1 rel. diff %.1e; sparse vs the same keys chosen explicitly %.1e%s\n",
                sh.name, max_threads, split_err, sparse_err, split_err > 1e-4f || sparse_err > 1e-4f ? "  FAILED" : "");
    if (split_err > 1e-4f || sparse_err > 1e-4f) return 1;

    auto token = [&](const KvCache& kv) {
      for (int64_t l = 0; l < layers; ++l) gqa_attention(q1, kv, l, s, q.data(), out.data());
    };
    auto choose = [&] {
      for (int64_t l = 0; l < layers; ++l) select_blocks(q1, sparse, l, s, q.data(), sel);
    };
    Time t_dense[2], t_sparse[2], t_select[2];
    const int th[2] = {1, max_threads};
    for (int i = 0; i < 2; ++i) {
      set_threads(th[i]);
      token(dense);  // warm
      t_dense[i] = median_time(reps, [&] { token(dense); });
      t_sparse[i] = median_time(reps, [&] { token(sparse); });
      t_select[i] = median_time(reps, choose);
    }
    for (int i = 0; i < 2; ++i) {
      std::printf("  %d thread(s), wall: dense %8.3f ms  sparse %8.3f ms (choosing keys %.3f ms)  dense/sparse %.2fx\n",
                  th[i], 1e3 * t_dense[i].wall, 1e3 * t_sparse[i].wall, 1e3 * t_select[i].wall,
                  t_dense[i].wall / t_sparse[i].wall);
    }
    std::printf("  1 thread, CPU:   dense %8.3f ms  sparse %8.3f ms (choosing keys %.3f ms)  dense/sparse %.2fx\n",
                1e3 * t_dense[0].cpu, 1e3 * t_sparse[0].cpu, 1e3 * t_select[0].cpu, t_dense[0].cpu / t_sparse[0].cpu);
    std::printf("  %d threads vs 1, wall: dense %.2fx, sparse %.2fx\n", max_threads, t_dense[0].wall / t_dense[1].wall,
                t_sparse[0].wall / t_sparse[1].wall);
  }
  return 0;
}
