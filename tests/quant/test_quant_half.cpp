// f16 and bf16 scalar conversions: IEEE values worked out by hand
// (f16: 1 sign, 5 exponent bits with bias 15, 10 mantissa bits; bf16: the top
// 16 bits of an f32) and round-to-nearest-even at every kind of tie.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "quant/format.h"

namespace moerun {
namespace {

TEST_CASE("quant half: f16 exact values both ways") {
  struct Pair {
    float f;
    uint16_t h;
  };
  const Pair pairs[] = {
      {0.0f, 0x0000},      {-0.0f, 0x8000},
      {1.0f, 0x3C00},      {-2.0f, 0xC000},
      {0.5f, 0x3800},      {65504.0f, 0x7BFF},      // largest finite
      {0x1p-14f, 0x0400},  // smallest normal
      {0x1p-24f, 0x0001},  // smallest subnormal
      {0x3FFp-24f, 0x03FF},  // largest subnormal: 1023 * 2^-24
      {0.333251953125f, 0x3555},  // 2^-2 * (1 + 341/1024)
      {std::numeric_limits<float>::infinity(), 0x7C00},
      {-std::numeric_limits<float>::infinity(), 0xFC00},
  };
  for (const Pair& p : pairs) {
    CAPTURE(p.h);
    CHECK(f32_to_f16(p.f) == p.h);
    CHECK(std::bit_cast<uint32_t>(f16_to_f32(p.h)) ==
          std::bit_cast<uint32_t>(p.f));
  }
}

TEST_CASE("quant half: f32 -> f16 rounds to nearest, ties to even") {
  // Normal range: the f16 ulp at 1.0 is 2^-10.
  CHECK(f32_to_f16(1.0f + 0x1p-11f) == 0x3C00);  // tie -> even (1.0)
  CHECK(f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3C02);  // tie -> even (..02)
  CHECK(f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f) == 0x3C01);  // above tie
  CHECK(f32_to_f16(65519.0f) == 0x7BFF);
  CHECK(f32_to_f16(65520.0f) == 0x7C00);  // tie 65504|65536 -> even = inf
  CHECK(f32_to_f16(1e10f) == 0x7C00);
  CHECK(f32_to_f16(-1e10f) == 0xFC00);
  // Subnormal range: the ulp is 2^-24.
  CHECK(f32_to_f16(0x1p-25f) == 0x0000);                // tie -> 0
  CHECK(f32_to_f16(3 * 0x1p-25f) == 0x0002);            // tie 1|2 -> 2
  CHECK(f32_to_f16(0x1p-25f + 0x1p-35f) == 0x0001);     // above tie
  CHECK(f32_to_f16(-0x1p-26f) == 0x8000);               // below half: -0
  CHECK(f32_to_f16(0x1p-14f - 0x1p-25f) == 0x0400);     // tie 3FF|400
  CHECK(f32_to_f16(0x1p-14f - 0x1p-24f) == 0x03FF);
  CHECK(f32_to_f16(std::numeric_limits<float>::denorm_min()) == 0x0000);
}

TEST_CASE("quant half: f16 NaN") {
  CHECK(f32_to_f16(std::numeric_limits<float>::quiet_NaN()) == 0x7E00);
  CHECK(f32_to_f16(-std::numeric_limits<float>::quiet_NaN()) == 0xFE00);
  CHECK(std::isnan(f16_to_f32(0x7E00)));
  CHECK(std::isnan(f16_to_f32(0x7C01)));
  CHECK(std::isnan(f16_to_f32(0xFFFF)));
}

TEST_CASE("quant half: every finite f16 survives f16 -> f32 -> f16") {
  int mismatches = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x03FF) != 0) continue;  // NaN
    mismatches += f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))) != h;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("quant half: bf16") {
  CHECK(f32_to_bf16(1.0f) == 0x3F80);
  CHECK(bf16_to_f32(0x3F80) == 1.0f);
  CHECK(bf16_to_f32(0x4049) == 3.140625f);  // 0x40490000
  CHECK(f32_to_bf16(-2.0f) == 0xC000);
  // The bf16 ulp at 1.0 is 2^-7.
  CHECK(f32_to_bf16(1.0f + 0x1p-8f) == 0x3F80);      // tie -> even
  CHECK(f32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3F82);  // tie -> even
  CHECK(f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f) == 0x3F81);
  CHECK(f32_to_bf16(std::numeric_limits<float>::max()) == 0x7F80);  // -> inf
  CHECK(f32_to_bf16(std::numeric_limits<float>::infinity()) == 0x7F80);
  // NaN stays NaN with the quiet bit (0x0040) forced on.
  CHECK(f32_to_bf16(std::bit_cast<float>(0x7F800001u)) == 0x7FC0);
  CHECK(f32_to_bf16(std::bit_cast<float>(0xFFC00000u)) == 0xFFC0);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7F80) == 0x7F80 && (h & 0x007F) != 0) continue;  // NaN
    if (f32_to_bf16(bf16_to_f32(static_cast<uint16_t>(h))) != h) {
      FAIL("bf16 round trip changed ", h);
    }
  }
}

}  // namespace
}  // namespace moerun
