// quant/q6_k.h's dot against ggml's generic kernel (ggml-cpu/quants.c
// ggml_vec_dot_q6_K_q8_K_generic, what llama.cpp's portable build runs),
// written out again below as ggml has it: its own unpacking of ql/qh into
// levels - 32, int16 products, 8 int32 lanes of 8-element halves, 8 float
// lanes. The results must be equal bit for bit, so a change of the scalar
// reference's float order fails here and not only in the golden tests.
#include <doctest/doctest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <random>

#include "quant/q6_k.h"
#include "quant/q8_k.h"
#include "tests/quant/q6_k_rows.h"

namespace moerun {
namespace {

float ggml_generic_q6_k_q8_k(int n, const BlockQ6_K* x, const BlockQ8_K* y) {
  const int nb = n / 256;
  int8_t aux8[256];
  int16_t aux16[8];
  float sums[8];
  int32_t aux32[8];
  std::memset(sums, 0, sizeof sums);
  float sumf = 0;
  for (int i = 0; i < nb; ++i) {
    const uint8_t* q4 = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* q8 = y[i].qs;
    std::memset(aux32, 0, sizeof aux32);
    int8_t* a = aux8;
    for (int j = 0; j < 256; j += 128) {
      for (int l = 0; l < 32; ++l) {
        a[l + 0] = static_cast<int8_t>(((q4[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        a[l + 32] = static_cast<int8_t>(((q4[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        a[l + 64] = static_cast<int8_t>(((q4[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        a[l + 96] = static_cast<int8_t>(((q4[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
      a += 128;
      q4 += 64;
      qh += 32;
    }
    a = aux8;
    int is = 0;
    for (int j = 0; j < 256 / 16; ++j) {
      const int scale = x[i].scales[is++];
      for (int l = 0; l < 8; ++l) aux16[l] = static_cast<int16_t>(q8[l] * a[l]);
      for (int l = 0; l < 8; ++l) aux32[l] += scale * aux16[l];
      q8 += 8;
      a += 8;
      for (int l = 0; l < 8; ++l) aux16[l] = static_cast<int16_t>(q8[l] * a[l]);
      for (int l = 0; l < 8; ++l) aux32[l] += scale * aux16[l];
      q8 += 8;
      a += 8;
    }
    const float d = f16_to_f32(x[i].d) * y[i].d;
    for (int l = 0; l < 8; ++l) sums[l] += d * aux32[l];
  }
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  return sumf;
}

// The order moerun used before: one int per block, d_w * d_a * sum.
float one_sum_per_block(int n, const BlockQ6_K* x, const BlockQ8_K* y) {
  float sum = 0;
  for (int i = 0; i < n / 256; ++i) {
    int sumi = 0;
    for (int p = 0; p < 256; ++p) sumi += x[i].scales[p / 16] * (q6_k_level(x[i], p) - 32) * y[i].qs[p];
    sum += f16_to_f32(x[i].d) * y[i].d * sumi;
  }
  return sum;
}

TEST_CASE("quant: the q6_k dot gives the floats of ggml's generic kernel") {
  std::mt19937 rng(2024);
  int cases = 0, other_order_differs = 0;
  for (int blocks : {1, 2, 3, 5, 8, 16, 37}) {
    for (int rep = 0; rep < 40; ++rep) {
      CAPTURE(blocks);
      CAPTURE(rep);
      const auto w = test::random_q6_k_blocks(rng, blocks);
      const auto a = test::random_q8_k_blocks(rng, blocks);
      const int n = 256 * blocks;
      const float want = ggml_generic_q6_k_q8_k(n, w.data(), a.data());
      const float got = vec_dot_q6_k_q8_k(n, w.data(), a.data());
      REQUIRE(std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(want));
      ++cases;
      other_order_differs += one_sum_per_block(n, w.data(), a.data()) != want;
    }
  }
  // The data tells float orders apart: another order misses often.
  MESSAGE(other_order_differs << " of " << cases << " cases differ in the one-sum-per-block order");
  CHECK(other_order_differs > cases / 4);
}

}  // namespace
}  // namespace moerun
