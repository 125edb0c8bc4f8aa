// Scalar IEEE binary16 and bfloat16 conversions used by every block format
// (block scales are f16) and by the F16/BF16 formats themselves.
// Results are bit-identical to ggml's (ggml-impl.h): round to nearest even,
// f16 NaN -> 0x7E00 with the sign kept, bf16 NaN -> quiet NaN with the
// payload's top bits kept. Owns nothing else.
#include <bit>
#include <cstdint>

#include "quant/format.h"

namespace moerun {

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    // Zero or subnormal: man * 2^-24, exact in f32.
    bits = std::bit_cast<uint32_t>(static_cast<float>(man) * 0x1p-24f);
  } else if (exp == 31) {
    // Inf, or NaN made quiet (ggml's multiply-based conversion quiets sNaN).
    bits = 0x7f800000u | (man << 13) | (man ? 0x00400000u : 0u);
  } else {
    // Rebias the exponent: f16 bias 15, f32 bias 127.
    bits = ((exp + 112u) << 23) | (man << 13);
  }
  return std::bit_cast<float>(sign | bits);
}

uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u;  // NaN: canonical quiet NaN
  if (a >= 0x47800000u) return sign | 0x7c00u;  // >= 2^16 (or inf): inf
  if (a >= 0x38800000u) {
    // Normal f16 (>= 2^-14): drop 13 mantissa bits, rounding to nearest even.
    // A carry out of the mantissa bumps the exponent, up to inf at 65520.
    const uint32_t rebased = a - (112u << 23);
    const uint32_t odd = (rebased >> 13) & 1u;
    return sign | static_cast<uint16_t>((rebased + 0xfffu + odd) >> 13);
  }
  if (a < 0x33000000u) return sign;  // <= 2^-25 rounds (to even) to zero
  // Subnormal f16: round(|f| * 2^24) to nearest even; 1024 encodes 2^-14.
  const uint32_t e = a >> 23;
  const uint32_t m = (a & 0x7fffffu) | 0x800000u;  // |f| = m * 2^(e-150)
  const uint32_t shift = 126u - e;                  // 14..24 here
  uint32_t r = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (r & 1u))) ++r;
  return sign | static_cast<uint16_t>(r);
}

float bf16_to_f32(uint16_t h) {
  return std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
}

uint16_t f32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN: force quiet
  }
  // Round to nearest even on the 16 dropped bits (inf stays inf).
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace moerun
