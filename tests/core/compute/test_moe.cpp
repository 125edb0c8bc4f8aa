// core/compute/moe: the routed FFN with a shared expert, decode and prefill
// paths, against each expert run on its own tokens by swiglu_ffn (the
// matmul path): the grouped phases must give the same floats.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "core/compute/ffn.h"
#include "core/compute/moe.h"
#include "simd/dispatch.h"
#include "simd/float_ops.h"

namespace moerun {
namespace {

// n matrices of [rows, K] in format t, one after another (ne[2] = n).
struct Weights {
  std::vector<uint8_t> bytes;
  TensorView view;
};

Weights make_weights(QType t, int64_t K, int64_t rows, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 0.1f);
  const FormatTraits& f = format_traits(t);
  Weights w;
  w.bytes.resize(row_bytes(t, K) * rows * n);
  std::vector<float> r(K);
  for (int64_t i = 0; i < rows * n; ++i) {
    for (float& v : r) v = nd(rng);
    f.quantize(r.data(), w.bytes.data() + i * row_bytes(t, K), K);
  }
  w.view.type = t;
  w.view.n_dims = n > 1 ? 3 : 2;
  w.view.ne[0] = K;
  w.view.ne[1] = rows;
  w.view.ne[2] = n;
  w.view.data = w.bytes.data();
  w.view.row_bytes = row_bytes(t, K);
  w.view.slice_bytes = w.view.row_bytes * rows;
  return w;
}

TEST_CASE("moe: grouped decode and prefill phases give each expert's matmul floats") {
  struct Case {
    QType gate, down;
  };
  // Q4_K gate/up with Q5_0 down: what Q4_K files hold when F is not a multiple of 256.
  for (Case c : {Case{QType::Q4_0, QType::Q4_0}, Case{QType::Q8_0, QType::Q8_0}, Case{QType::Q4_K, QType::Q5_0}}) {
    std::mt19937 rng(11);
    const int64_t E = 256, F = 160, Fs = 320, n_expert = 4, k = 2;
    Weights gate = make_weights(c.gate, E, F, n_expert, rng), up = make_weights(c.gate, E, F, n_expert, rng);
    Weights down = make_weights(c.down, F, E, n_expert, rng);
    Weights sg = make_weights(c.gate, E, Fs, 1, rng), su = make_weights(c.gate, E, Fs, 1, rng);
    Weights sd = make_weights(c.down, Fs, E, 1, rng);
    const ExpertTensors ex{gate.view, up.view, down.view};
    const SharedExpert shared{sg.view, su.view, sd.view};
    // B = 1: the decode phases; 40 (~20 tokens per expert, the packed GEMM
    // where the ISA has one) and 9 (fewer than 16 per expert): prefill.
    for (int64_t B : {1, 9, 40}) {
      CAPTURE(format_traits(c.gate).name);
      CAPTURE(B);
      std::normal_distribution<float> nd(0.f, 1.f);
      std::vector<float> x(B * E);
      for (float& v : x) v = nd(rng);
      std::vector<int32_t> ids(B * k);
      std::vector<float> wts(B * k);
      for (int64_t b = 0; b < B; ++b) {
        std::vector<int32_t> e(n_expert);
        std::iota(e.begin(), e.end(), 0);
        std::shuffle(e.begin(), e.end(), rng);
        for (int64_t j = 0; j < k; ++j) {
          ids[b * k + j] = e[j];
          wts[b * k + j] = 0.25f + 0.5f * static_cast<float>(j);
        }
      }
      std::vector<float> y(B * E, 0.f);
      MoeScratch s;
      moe_ffn(ex, x.data(), B, ids.data(), wts.data(), k, y.data(), s, nullptr, &shared);

      // Each expert over its tokens at once (swiglu_ffn: the matmul path,
      // as moe_ffn ran experts before its grouped phases), then the same sums.
      std::vector<float> ye(B * k * E), ys(B * E), want(B * E, 0.f);
      FfnScratch f;
      for (int32_t e = 0; e < n_expert; ++e) {
        std::vector<int64_t> slots;
        for (int64_t i = 0; i < B * k; ++i) {
          if (ids[i] == e) slots.push_back(i);
        }
        const int64_t n = static_cast<int64_t>(slots.size());
        std::vector<float> xe(n * E), oe(n * E);
        for (int64_t r = 0; r < n; ++r) std::copy_n(x.data() + (slots[r] / k) * E, E, xe.data() + r * E);
        swiglu_ffn(gate.view.slice(e), up.view.slice(e), down.view.slice(e), xe.data(), n, oe.data(), f);
        for (int64_t r = 0; r < n; ++r) std::copy_n(oe.data() + r * E, E, ye.data() + slots[r] * E);
      }
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t j = 0; j < k; ++j) axpy(want.data() + b * E, wts[b * k + j], ye.data() + (b * k + j) * E, E);
      }
      swiglu_ffn(sg.view, su.view, sd.view, x.data(), B, ys.data(), f);
      add_inplace(want.data(), ys.data(), B * E);
      for (int64_t i = 0; i < B * E; ++i) REQUIRE(y[i] == want[i]);
    }
  }
}

}  // namespace
}  // namespace moerun
