// Random Q6_K weight and Q8_K activation blocks for the tests that check
// the Q6_K dot's float order (tests/quant/test_q6_k_dot.cpp,
// tests/simd/test_kernels.cpp). Random bytes rather than quantized data, so
// every level (0..63), every int8 scale and activation level (-128 too) and
// d of either sign occur; one block in eight is an extreme one (all levels
// 63 or all 0, scales -128, activation levels -128), where a kernel's int16
// steps would saturate first.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "quant/q6_k.h"
#include "quant/q8_k.h"

namespace moerun::test {

inline std::vector<BlockQ6_K> random_q6_k_blocks(std::mt19937& rng, int64_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> ud(-4.f, 4.f);
  std::vector<BlockQ6_K> v(static_cast<size_t>(n));
  for (BlockQ6_K& b : v) {
    const int kind = byte(rng) % 8;  // 0: all 63, 1: all 0, else random
    for (uint8_t& q : b.ql) q = static_cast<uint8_t>(kind == 0 ? 0xFF : kind == 1 ? 0 : byte(rng));
    for (uint8_t& q : b.qh) q = static_cast<uint8_t>(kind == 0 ? 0xFF : kind == 1 ? 0 : byte(rng));
    for (int8_t& s : b.scales) s = static_cast<int8_t>(kind < 2 ? -128 : byte(rng) - 128);
    b.d = f32_to_f16((byte(rng) % 2 ? 1.f : -1.f) * std::exp(ud(rng)) * 1e-3f);
  }
  return v;
}

inline std::vector<BlockQ8_K> random_q8_k_blocks(std::mt19937& rng, int64_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> ud(-4.f, 4.f);
  std::vector<BlockQ8_K> v(static_cast<size_t>(n));
  for (BlockQ8_K& b : v) {
    const bool extreme = byte(rng) % 8 == 0;
    for (int8_t& q : b.qs) q = static_cast<int8_t>(extreme ? -128 : byte(rng) - 128);
    for (int g = 0; g < BlockQ8_K::kSize / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b.qs[16 * g + l];
      b.bsums[g] = static_cast<int16_t>(sum);
    }
    b.d = (byte(rng) % 2 ? 1.f : -1.f) * std::exp(ud(rng)) * 1e-2f;
  }
  return v;
}

}  // namespace moerun::test
