// Decode MoE benchmark: how close the routed FFN of one token (B = 1) comes
// to a plain GEMV streaming the same bytes. Random Q4_0 experts of a real
// model's shape (qwen3-30b-a3b: 128 experts of 768 x 2048, top 8;
// ds2-lite: 64 of 1408 x 2048, top 6, with its 2 shared experts) in 2 MiB
// pages, `--layers` layers so that a token streams its experts from
// memory, random routing per token and layer. Token by token, in turn, it
// times moe_ffn, one dense Q4_0 matrix per layer of the same bytes, and
// the same number of matrices and bytes (every row of K = 2048) in one
// matmul_many region: what streaming many ~1 MB matrices costs by itself,
// without the MoE's phases or its down rows. A busy host slows the three
// alike; the ratios to the dense matrix are the figures (1.0: as fast).
// Never gates CI.
//   bench_moe [--shape qwen3|ds2] [--layers 8] [--tokens 32] [--reps 7] [--threads 2]
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/compute/matmul.h"
#include "core/compute/moe.h"
#include "core/compute/thread_pool.h"
#include "quant/q4_0.h"
#include "simd/dispatch.h"

namespace {

using namespace moerun;
using Clock = std::chrono::steady_clock;

// The value after `name` on the command line, or nullptr.
const char* arg_text(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return nullptr;
}

int64_t arg(int argc, char** argv, const char* name, int64_t dflt) {
  const char* v = arg_text(argc, argv, name);
  return v != nullptr ? std::atoll(v) : dflt;
}

// In 2 MiB pages where the kernel gives them, as a model's weights are
// (moerun asks for them when it loads a file): in 4 KiB pages the experts'
// scattered reads cost page walks that a real decode does not pay.
constexpr size_t kHugePage = size_t{2} << 20;
using Bytes = std::unique_ptr<uint8_t, decltype(&std::free)>;

Bytes huge_bytes(size_t n) {
  const size_t cap = (n + kHugePage - 1) & ~(kHugePage - 1);
  void* m = std::aligned_alloc(kHugePage, cap);
  if (m == nullptr) {
    std::fprintf(stderr, "bench_moe: cannot allocate %zu bytes\n", n);
    std::exit(1);
  }
  madvise(m, cap, MADV_HUGEPAGE);
  return Bytes(static_cast<uint8_t*>(m), &std::free);
}

struct Weights {
  Bytes bytes{nullptr, &std::free};
  TensorView view;
};

// n matrices of [rows, K] Q4_0 with random quants and small scales: the
// values do not matter, only the bytes streamed.
Weights random_q4_0(int64_t K, int64_t rows, int64_t n, uint64_t seed) {
  Weights w;
  const size_t rb = row_bytes(QType::Q4_0, K), size = rb * static_cast<size_t>(rows * n);
  w.bytes = huge_bytes(size);
  uint8_t* const p = w.bytes.get();
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i + 8 <= size; i += 8) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    std::memcpy(p + i, &s, 8);
  }
  const uint16_t d = 0x2000;  // f16 ~0.0078
  for (size_t b = 0; b < size / sizeof(BlockQ4_0); ++b) std::memcpy(p + b * sizeof(BlockQ4_0), &d, 2);
  w.view.type = QType::Q4_0;
  w.view.n_dims = n > 1 ? 3 : 2;
  w.view.ne[0] = K;
  w.view.ne[1] = rows;
  w.view.ne[2] = n;
  w.view.data = p;
  w.view.row_bytes = rb;
  w.view.slice_bytes = rb * static_cast<size_t>(rows);
  return w;
}

struct Layer {
  Weights gate, up, down, sg, su, sd, dense;
};

}  // namespace

int main(int argc, char** argv) {
  const char* shape_arg = arg_text(argc, argv, "--shape");
  const std::string shape = shape_arg != nullptr ? shape_arg : "qwen3";
  const int64_t layers = arg(argc, argv, "--layers", 8), tokens = arg(argc, argv, "--tokens", 32);
  const int64_t reps = arg(argc, argv, "--reps", 7);
  set_threads(static_cast<int>(arg(argc, argv, "--threads", threads())));
  const bool ds2 = shape == "ds2";
  const int64_t E = 2048, F = ds2 ? 1408 : 768, n_expert = ds2 ? 64 : 128, k = ds2 ? 6 : 8;
  const int64_t Fs = ds2 ? 2 * 1408 : 0;
  const size_t mat = row_bytes(QType::Q4_0, E) * static_cast<size_t>(F);  // one gate/up/down matrix
  const size_t per_token = 3 * mat * k + (ds2 ? 3 * mat * 2 : 0);          // bytes per token and layer
  std::printf("decode MoE, %s shape: %lld experts of %lld x %lld, top %lld%s, %lld layers, %lld tokens, isa %s, %d threads\n",
              shape.c_str(), static_cast<long long>(n_expert), static_cast<long long>(F), static_cast<long long>(E),
              static_cast<long long>(k), ds2 ? ", 2 shared" : "", static_cast<long long>(layers),
              static_cast<long long>(tokens), kernels().name, threads());
  std::vector<Layer> L(static_cast<size_t>(layers));
  for (int64_t l = 0; l < layers; ++l) {
    Layer& y = L[l];
    y.gate = random_q4_0(E, F, n_expert, 6 * l + 1);
    y.up = random_q4_0(E, F, n_expert, 6 * l + 2);
    y.down = random_q4_0(F, E, n_expert, 6 * l + 3);
    if (ds2) {
      y.sg = random_q4_0(E, Fs, 1, 6 * l + 4);
      y.su = random_q4_0(E, Fs, 1, 6 * l + 5);
      y.sd = random_q4_0(Fs, E, 1, 6 * l + 6);
    }
    // The dense stand-in: rows of E so that one GEMV reads per_token bytes.
    y.dense = random_q4_0(E, static_cast<int64_t>(per_token / row_bytes(QType::Q4_0, E)), 1, 1000 + l);
  }
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(E), out(E), dense_out(static_cast<size_t>(L[0].dense.view.ne[1]));
  for (float& v : x) v = nd(rng);
  // Routes: k distinct experts per token and layer.
  std::vector<int32_t> ids(static_cast<size_t>(tokens * layers * k));
  std::vector<float> wts(ids.size(), 1.0f / static_cast<float>(k));
  std::vector<int32_t> all(n_expert);
  for (size_t i = 0; i < ids.size(); i += k) {
    std::iota(all.begin(), all.end(), 0);
    std::shuffle(all.begin(), all.end(), rng);
    std::copy(all.begin(), all.begin() + k, ids.begin() + static_cast<std::ptrdiff_t>(i));
  }
  MoeScratch scratch;
  auto run_moe = [&](int64_t t) {
    for (int64_t l = 0; l < layers; ++l) {
      const Layer& y = L[l];
      const ExpertTensors ex{y.gate.view, y.up.view, y.down.view};
      const SharedExpert sh{y.sg.view, y.su.view, y.sd.view};
      std::fill(out.begin(), out.end(), 0.0f);
      moe_ffn(ex, x.data(), 1, ids.data() + (t * layers + l) * k, wts.data(), k, out.data(), scratch, nullptr,
              ds2 ? &sh : nullptr);
    }
  };
  auto run_dense = [&](int64_t) {
    for (int64_t l = 0; l < layers; ++l) matmul(L[l].dense.view, x.data(), E, 1, dense_out.data(), 1);
  };
  // The expert bytes as separate matrices of rows of E in one region: each
  // chosen expert's gate and up, and a third matrix of E-long rows per
  // expert (another expert's gate) for its down, so matrix count and bytes
  // are the MoE's but there are no phases and every row has K = E.
  std::vector<TensorView> mats;
  std::vector<MatmulOut> outs;
  std::vector<float> mats_out(static_cast<size_t>(3 * k * F + (ds2 ? 3 * Fs : 0)));
  auto run_matrices = [&](int64_t t) {
    for (int64_t l = 0; l < layers; ++l) {
      const Layer& y = L[l];
      mats.clear();
      for (int64_t j = 0; j < k; ++j) {
        const int32_t e = ids[(t * layers + l) * k + j];
        mats.push_back(y.gate.view.slice(e));
        mats.push_back(y.up.view.slice(e));
        mats.push_back(y.gate.view.slice((e + n_expert / 2) % n_expert));
      }
      if (ds2) {
        mats.push_back(y.sg.view);
        mats.push_back(y.su.view);
        mats.push_back(L[(l + 1) % layers].sg.view);
      }
      outs.clear();
      float* o = mats_out.data();
      for (const TensorView& m : mats) {
        outs.push_back({&m, o, 1});
        o += m.ne[1];
      }
      matmul_many(outs.data(), static_cast<int>(outs.size()), x.data(), E, 1);
    }
  };
  // 0: the experts, 1: the dense matrix, 2: the separate matrices.
  const std::function<void(int64_t)> variants[3] = {run_moe, run_dense, run_matrices};
  for (int64_t t = 0; t < tokens; ++t) {
    for (const auto& run : variants) run(t);
  }
  // Token by token, the three in turn (rotating which goes first), so a
  // slow second of a busy host falls on all three alike.
  std::vector<double> gbs[3], vs_dense[3];
  const double bytes = static_cast<double>(per_token) * static_cast<double>(tokens * layers);
  for (int64_t r = 0; r < reps; ++r) {
    double secs[3] = {};
    for (int64_t t = 0; t < tokens; ++t) {
      for (int i = 0; i < 3; ++i) {
        const int v = static_cast<int>((t + i) % 3);
        const auto t0 = Clock::now();
        variants[v](t);
        secs[v] += std::chrono::duration<double>(Clock::now() - t0).count();
      }
    }
    for (int v = 0; v < 3; ++v) {
      gbs[v].push_back(bytes / secs[v] / 1e9);
      vs_dense[v].push_back(secs[1] / secs[v]);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  auto range = [&](const std::vector<double>& v) {
    std::printf("%.3f (min %.3f, max %.3f)", median(v), *std::min_element(v.begin(), v.end()),
                *std::max_element(v.begin(), v.end()));
  };
  std::printf("GB/s, medians of %lld: experts (moe_ffn) %.1f; one dense matrix of the same bytes %.1f; the same "
              "matrices as rows of %lld in one matmul_many %.1f\n",
              static_cast<long long>(reps), median(gbs[0]), median(gbs[1]), static_cast<long long>(E),
              median(gbs[2]));
  std::printf("per repetition, against the dense matrix: experts ");
  range(vs_dense[0]);
  std::printf(", separate matrices ");
  range(vs_dense[2]);
  std::printf("\n");
  return 0;
}
