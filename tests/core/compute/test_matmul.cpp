// core/compute/matmul over the active kernel table: threads, row chunks, GEMV vs
// GEMM tiles, the parallel activation quantization and the MoE row mapping,
// against dot products from the scalar reference.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/compute/matmul.h"
#include "simd/dispatch.h"

namespace moerun {
namespace {

TEST_CASE("matmul: matches scalar dots for B = 1 and a large batch, and maps rows") {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 1.f);
  const KernelTable& ref = kernel_table(Isa::Scalar);
  for (QType t : {QType::Q4_0, QType::Q8_0, QType::Q4_K, QType::Q6_K, QType::F16, QType::F32}) {
    const FormatTraits& f = format_traits(t);
    const int64_t K = 2048, N = 203;  // B * K >= 2^16 for B = 40: the parallel quantize path
    std::vector<float> wf(N * K);
    for (float& v : wf) v = nd(rng);
    std::vector<uint8_t> wq(row_bytes(t, K) * N);
    for (int64_t n = 0; n < N; ++n) f.quantize(wf.data() + n * K, wq.data() + n * row_bytes(t, K), K);
    TensorView w;
    w.type = t;
    w.n_dims = 2;
    w.ne[0] = K;
    w.ne[1] = N;
    w.data = wq.data();
    w.row_bytes = row_bytes(t, K);
    for (int64_t B : {1, 40}) {
      CAPTURE(f.name);
      CAPTURE(B);
      std::vector<float> x(B * K);
      for (float& v : x) v = nd(rng);
      std::vector<float> y(B * N), ym(B * N, 0.f);
      matmul(w, x.data(), K, B, y.data(), N);
      std::vector<int32_t> rows;
      for (int64_t b = B - 1; b >= 0; b -= 2) rows.push_back(static_cast<int32_t>(b));
      matmul_rows(w, x.data(), K, rows.data(), static_cast<int64_t>(rows.size()), ym.data(), N);
      const FormatTraits& af = format_traits(f.vec_dot_type);
      std::vector<uint8_t> aq(row_bytes(af.type, K));
      for (int64_t b = 0; b < B; ++b) {
        af.quantize(x.data() + b * K, aq.data(), K);
        const bool mapped = (B - 1 - b) % 2 == 0;
        for (int64_t n = 0; n < N; ++n) {
          const float want = ref.of(t).dot(K, wq.data() + n * w.row_bytes, aq.data());
          REQUIRE(std::fabs(y[b * N + n] - want) <= 1e-4f * (1 + std::fabs(want)));
          REQUIRE(ym[b * N + n] == (mapped ? y[b * N + n] : 0.f));
        }
      }
    }
  }
}

}  // namespace
}  // namespace moerun
