// Decode MoE benchmark: how close the routed FFN of one token (B = 1) comes
// to a plain GEMV streaming the same bytes. Random Q4_0 experts of a real
// model's shape (qwen3-30b-a3b: 128 experts of 768 x 2048, top 8;
// ds2-lite: 64 of 1408 x 2048, top 6, with its 2 shared experts), `--layers`
// layers so that a token streams its experts from memory, random routing
// per token and layer. Each repetition times the same tokens through
// moe_ffn and through one dense Q4_0 matrix per layer of the same bytes,
// alternating, so a busy host slows both alike; the ratio of their
// bandwidths is the figure (1.0: experts stream as fast as one big matrix).
// Never gates CI.
//   bench_moe [--shape qwen3|ds2] [--layers 8] [--tokens 32] [--reps 7] [--threads 2]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

int64_t arg(int argc, char** argv, const char* name, int64_t dflt) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::atoll(argv[i + 1]);
  }
  return dflt;
}

std::string arg_str(int argc, char** argv, const char* name, const char* dflt) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return dflt;
}

// n matrices of [rows, K] Q4_0 with random quants and small scales: the
// values do not matter, only the bytes streamed.
struct Weights {
  std::vector<uint8_t> bytes;
  TensorView view;
};

Weights random_q4_0(int64_t K, int64_t rows, int64_t n, uint64_t seed) {
  Weights w;
  const size_t rb = row_bytes(QType::Q4_0, K);
  w.bytes.resize(rb * static_cast<size_t>(rows * n));
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i + 8 <= w.bytes.size(); i += 8) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    std::memcpy(w.bytes.data() + i, &s, 8);
  }
  const uint16_t d = 0x2000;  // f16 ~0.0078
  for (size_t b = 0; b < w.bytes.size() / sizeof(BlockQ4_0); ++b) std::memcpy(w.bytes.data() + b * sizeof(BlockQ4_0), &d, 2);
  w.view.type = QType::Q4_0;
  w.view.n_dims = n > 1 ? 3 : 2;
  w.view.ne[0] = K;
  w.view.ne[1] = rows;
  w.view.ne[2] = n;
  w.view.data = w.bytes.data();
  w.view.row_bytes = rb;
  w.view.slice_bytes = rb * static_cast<size_t>(rows);
  return w;
}

struct Layer {
  Weights gate, up, down, sg, su, sd, dense;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string shape = arg_str(argc, argv, "--shape", "qwen3");
  const int64_t layers = arg(argc, argv, "--layers", 8), tokens = arg(argc, argv, "--tokens", 32);
  const int64_t reps = arg(argc, argv, "--reps", 7);
  set_threads(static_cast<int>(arg(argc, argv, "--threads", threads())));
  const bool ds2 = shape == "ds2";
  const int64_t E = 2048, F = ds2 ? 1408 : 768, n_expert = ds2 ? 64 : 128, k = ds2 ? 6 : 8;
  const int64_t Fs = ds2 ? 2 * 1408 : 0;
  const size_t mat = row_bytes(QType::Q4_0, E) * static_cast<size_t>(F);  // one gate/up/down matrix
  const size_t per_token = (3 * mat * k + (ds2 ? 3 * mat * 2 : 0));        // bytes per token and layer
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
  auto run_moe = [&] {
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t l = 0; l < layers; ++l) {
        const Layer& y = L[l];
        const ExpertTensors ex{y.gate.view, y.up.view, y.down.view};
        const SharedExpert sh{y.sg.view, y.su.view, y.sd.view};
        std::fill(out.begin(), out.end(), 0.0f);
        moe_ffn(ex, x.data(), 1, ids.data() + (t * layers + l) * k, wts.data(), k, out.data(), scratch, nullptr,
                ds2 ? &sh : nullptr);
      }
    }
  };
  auto run_dense = [&] {
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t l = 0; l < layers; ++l) matmul(L[l].dense.view, x.data(), E, 1, dense_out.data(), 1);
    }
  };
  auto seconds = [](auto&& f) {
    const auto t0 = Clock::now();
    f();
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  run_moe();
  run_dense();
  std::vector<double> gb_moe, gb_dense, ratio;
  const double bytes = static_cast<double>(per_token) * static_cast<double>(tokens * layers);
  for (int64_t r = 0; r < reps; ++r) {
    const double tm = seconds(run_moe), td = seconds(run_dense);
    gb_moe.push_back(bytes / tm / 1e9);
    gb_dense.push_back(bytes / td / 1e9);
    ratio.push_back(td / tm);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("experts %.1f GB/s, one dense matrix of the same bytes %.1f GB/s (medians of %lld); "
              "experts / dense %.3f (median of the per-repetition ratios; min %.3f, max %.3f)\n",
              median(gb_moe), median(gb_dense), static_cast<long long>(reps), median(ratio),
              *std::min_element(ratio.begin(), ratio.end()), *std::max_element(ratio.begin(), ratio.end()));
  return 0;
}
