// Blocks built by hand and decoded by hand (the arithmetic is in the
// comments), and quantizer outputs worked out on simple inputs. These pin the
// bit layouts of ggml-common.h independently of the round-trip tests.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "quant/all_formats.h"

namespace moerun {
namespace {

// f16 bit patterns used below: 0.25 = 0x3400, 0.5 = 0x3800, 1 = 0x3C00,
// 2 = 0x4000, -1 = 0xBC00 (exponent bias 15, 10 mantissa bits).

TEST_CASE("quant known: q4_0 dequantize") {
  BlockQ4_0 b{};
  b.d = 0x4000;    // d = 2
  b.qs[0] = 0xF0;  // element 0: (0-8)*2 = -16; element 16: (15-8)*2 = 14
  b.qs[1] = 0x98;  // element 1: (8-8)*2 = 0;   element 17: (9-8)*2 = 2
  // Every other nibble is 0 -> (0-8)*2 = -16.
  float y[32];
  dequantize_row_q4_0(&b, y, 32);
  CHECK(y[0] == -16.0f);
  CHECK(y[16] == 14.0f);
  CHECK(y[1] == 0.0f);
  CHECK(y[17] == 2.0f);
  CHECK(y[2] == -16.0f);
  CHECK(y[31] == -16.0f);
}

TEST_CASE("quant known: q4_0 quantize x[j] = j - 16") {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  BlockQ4_0 b{};
  quantize_row_q4_0(x, &b, 32);
  // Largest magnitude is x[0] = -16, so d = -16 / -8 = 2 and id = 0.5;
  // level = trunc(x*0.5 + 8.5) clamped to 15:
  // j=0: 0.5 -> 0; j=1: 1.0 -> 1; j=2: 1.5 -> 1; j=15 (x=-1): 8;
  // j=16 (x=0): 8; j=31 (x=15): 16 -> clamped 15.
  CHECK(b.d == 0x4000);
  CHECK(b.qs[0] == (0 | (8 << 4)));
  CHECK(b.qs[1] == (1 | (9 << 4)));  // j=17 (x=1): 0.5 + 8.5 = 9.0 -> 9
  CHECK((b.qs[2] & 0x0F) == 1);
  CHECK(b.qs[15] == (8 | (15 << 4)));
  float y[32];
  dequantize_row_q4_0(&b, y, 32);
  CHECK(y[0] == -16.0f);
  CHECK(y[31] == 14.0f);  // (15-8)*2: 15 is clipped to the top level
}

TEST_CASE("quant known: q4_1 dequantize") {
  BlockQ4_1 b{};
  b.d = 0x3800;    // 0.5
  b.m = 0xBC00;    // -1
  b.qs[0] = 0x3A;  // element 0: 10*0.5 - 1 = 4; element 16: 3*0.5 - 1 = 0.5
  float y[32];
  dequantize_row_q4_1(&b, y, 32);
  CHECK(y[0] == 4.0f);
  CHECK(y[16] == 0.5f);
  CHECK(y[1] == -1.0f);  // level 0 -> the minimum
}

TEST_CASE("quant known: q4_1 quantize spans [min, max]") {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = 0.0f;
  x[3] = -3.0f;  // min
  x[20] = 4.5f;  // max: d = 7.5 / 15 = 0.5, id = 2
  x[7] = 1.0f;   // (1 + 3) * 2 + 0.5 = 8.5 -> 8
  BlockQ4_1 b{};
  quantize_row_q4_1(x, &b, 32);
  CHECK(b.d == 0x3800);
  CHECK(b.m == 0xC200);  // -3: sign, exponent 1+15 = 16, mantissa .5 -> 0x200
  CHECK((b.qs[3] & 0x0F) == 0);
  CHECK((b.qs[4] >> 4) == 15);  // element 20
  CHECK((b.qs[7] & 0x0F) == 8);
  CHECK((b.qs[0] & 0x0F) == 6);  // 0: 3*2 + 0.5 = 6.5 -> 6
}

TEST_CASE("quant known: q5_0 dequantize") {
  BlockQ5_0 b{};
  b.d = 0x3C00;  // 1
  b.qs[0] = 0x21;
  // qh bit 0 (element 0) and bit 17 (element 17) set: byte 0 bit 0, byte 2
  // bit 1.
  b.qh[0] = 0x01;
  b.qh[2] = 0x02;
  float y[32];
  dequantize_row_q5_0(&b, y, 32);
  CHECK(y[0] == 1.0f);     // (1 | 16) - 16
  CHECK(y[16] == -14.0f);  // 2 - 16
  CHECK(y[1] == -16.0f);   // 0 - 16
  CHECK(y[17] == 0.0f);    // (0 | 16) - 16
}

TEST_CASE("quant known: q5_1 dequantize") {
  BlockQ5_1 b{};
  b.d = 0x3400;  // 0.25
  b.m = 0x3C00;  // 1
  b.qs[0] = 0xF0;
  b.qh[0] = 0x01;  // bit 0: element 0
  b.qh[2] = 0x01;  // bit 16: element 16
  float y[32];
  dequantize_row_q5_1(&b, y, 32);
  CHECK(y[0] == 5.0f);    // (0 | 16) * 0.25 + 1
  CHECK(y[16] == 8.75f);  // (15 | 16) = 31 * 0.25 + 1
  CHECK(y[1] == 1.0f);
}

TEST_CASE("quant known: q5_0 quantize sets the high bits") {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  BlockQ5_0 b{};
  quantize_row_q5_0(x, &b, 32);
  // max = -16 -> d = 1, id = 1; level = trunc(x + 16.5) clamped to 31:
  // element j gets j (j < 31), element 31 gets 31.5 -> 31.
  CHECK(b.d == 0x3C00);
  float y[32];
  dequantize_row_q5_0(&b, y, 32);
  for (int j = 0; j < 32; ++j) CHECK(y[j] == static_cast<float>(j - 16));
  // Levels 16..31 (elements 16..31) have bit 4 set: qh = 0xFFFF0000.
  CHECK(b.qh[0] == 0x00);
  CHECK(b.qh[1] == 0x00);
  CHECK(b.qh[2] == 0xFF);
  CHECK(b.qh[3] == 0xFF);
}

TEST_CASE("quant known: q8_0 quantize x[j] = j - 16") {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  BlockQ8_0 b{};
  quantize_row_q8_0(x, &b, 32);
  // d = 16/127 = 0.12598; as f16: 2^-3 * (1 + 8.06/1024) -> mantissa 8,
  // exponent 12 -> 0x3008. id = 127/16 = 7.9375:
  // x=-16 -> -127; x=-15 -> -119.06 -> -119; x=1 -> 7.94 -> 8;
  // x=8 -> 63.5 -> 64 (half away from zero, roundf); x=15 -> 119.
  CHECK(b.d == 0x3008);
  CHECK(b.qs[0] == -127);
  CHECK(b.qs[1] == -119);
  CHECK(b.qs[16] == 0);
  CHECK(b.qs[17] == 8);
  CHECK(b.qs[24] == 64);
  CHECK(b.qs[8] == -64);
  CHECK(b.qs[31] == 119);
  float y[32];
  dequantize_row_q8_0(&b, y, 32);
  CHECK(y[0] == -127 * 0.1259765625f);  // f16 0x3008 = 0.1259765625
}

TEST_CASE("quant known: q8_0 rounds ties away from zero (roundf)") {
  // amax 127 -> d = 1, id = 1, so the levels are round(x) with ggml's
  // roundf: 2.5 -> 3, -2.5 -> -3, 0.5 -> 1 (Q8_K, below, rounds to even).
  float x[32] = {};
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.5f;
  BlockQ8_0 b{};
  quantize_row_q8_0(x, &b, 32);
  CHECK(b.d == 0x3C00);
  CHECK(b.qs[0] == 127);
  CHECK(b.qs[1] == 3);
  CHECK(b.qs[2] == -3);
  CHECK(b.qs[3] == 1);
}

TEST_CASE("quant known: q8_0 activations round x / d half away from zero, as ggml's portable build") {
  // amax 127: d = 1, so only the tie rule shows: 2.5 -> 3, -3.5 -> -4,
  // 0.5 -> 1 (an AVX build of llama.cpp gives 2, -4 and 0).
  float x[32] = {};
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -3.5f;
  x[3] = 0.5f;
  BlockQ8_0 b{};
  format_traits(QType::Q8_0).quantize_act(x, &b, 32);
  CHECK(b.d == 0x3C00);
  CHECK(b.qs[0] == 127);
  CHECK(b.qs[1] == 3);
  CHECK(b.qs[2] == -4);
  CHECK(b.qs[3] == 1);
  // amax 17: 1 / (17/127) rounds to 7.47058868 (127/17 would give
  // 7.47058821), so x = 0x1.122448p-4 lands exactly on 0.5: level 1.
  x[0] = 17.0f;
  x[1] = 0x1.122448p-4f;
  x[2] = -0x1.122448p-4f;
  x[3] = 0.0f;
  format_traits(QType::Q8_0).quantize_act(x, &b, 32);
  CHECK(b.qs[0] == 127);
  CHECK(b.qs[1] == 1);
  CHECK(b.qs[2] == -1);
  // The same block as Q8_1: same levels, and s from them.
  BlockQ8_1 b1{};
  format_traits(QType::Q8_1).quantize_act(x, &b1, 32);
  CHECK(b1.d == b.d);
  CHECK(b1.qs[0] == 127);
  CHECK(b1.qs[1] == 1);
  CHECK(b1.qs[2] == -1);
  CHECK(b1.s == f32_to_f16(127 * (17.0f / 127)));
}

TEST_CASE("quant known: q8_1 keeps s = d * sum(q)") {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  BlockQ8_1 b{};
  quantize_row_q8_1(x, &b, 32);
  // Same levels as the Q8_0 case; x=k and x=-k cancel, x=-16 is left:
  // sum = -127, s = -127 * (16/127) = -16 -> f16 0xCC00.
  CHECK(b.d == 0x3008);
  CHECK(b.s == 0xCC00);
  CHECK(b.qs[0] == -127);
}

TEST_CASE("quant known: q8_k quantize rounds ties to even") {
  float x[256] = {};
  x[0] = -127.0f;  // signed extreme: iscale = -127 / -127 = 1, d = 1
  x[1] = 2.5f;     // -> 2 (tie to even)
  x[2] = -2.5f;    // -> -2
  x[3] = 3.5f;     // -> 4
  x[4] = 0.5f;     // -> 0
  x[5] = 126.9f;   // -> 127
  x[17] = 5.0f;    // second group of 16
  BlockQ8_K b{};
  quantize_row_q8_k(x, &b, 256);
  CHECK(b.d == 1.0f);
  CHECK(b.qs[0] == -127);
  CHECK(b.qs[1] == 2);
  CHECK(b.qs[2] == -2);
  CHECK(b.qs[3] == 4);
  CHECK(b.qs[4] == 0);
  CHECK(b.qs[5] == 127);
  CHECK(b.bsums[0] == -127 + 2 - 2 + 4 + 0 + 127);
  CHECK(b.bsums[1] == 5);
  CHECK(b.bsums[2] == 0);
}

TEST_CASE("quant known: k-quant 6-bit scale packing") {
  // Sub-block 0: scale 2, min 4; sub-block 5: scale 33 = 0b10'0001,
  // min 20 = 0b01'0100 -> byte 9 = 0x1 | 0x4 << 4 = 0x41, the high bits go
  // to bits 6-7 of byte 1 (scale: 2 -> 0x80) and of byte 5 (min: 1 -> 0x40).
  const uint8_t ls[8] = {2, 0, 0, 0, 0, 33, 0, 0};
  const uint8_t lm[8] = {4, 0, 0, 0, 0, 20, 0, 0};
  uint8_t q[12];
  pack_scale_min_k4(ls, lm, q);
  const uint8_t expected[12] = {2, 0x80, 0, 0, 4, 0x40, 0, 0, 0, 0x41, 0, 0};
  for (int i = 0; i < 12; ++i) CHECK(q[i] == expected[i]);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, q, &sc, &m);
    CHECK(sc == ls[j]);
    CHECK(m == lm[j]);
  }
}

TEST_CASE("quant known: q4_k dequantize") {
  BlockQ4_K b{};
  b.d = 0x3C00;     // 1
  b.dmin = 0x3800;  // 0.5
  const uint8_t ls[8] = {2, 0, 0, 0, 0, 33, 0, 0};
  const uint8_t lm[8] = {4, 0, 0, 0, 0, 20, 0, 0};
  pack_scale_min_k4(ls, lm, b.scales);
  b.qs[0] = 0xF7;   // element 0 (low) = 7, element 32 (high) = 15
  b.qs[64] = 0x35;  // chunk 2: element 128 (low) = 5, element 160 (high) = 3
  float y[256];
  dequantize_row_q4_k(&b, y, 256);
  CHECK(y[0] == 12.0f);    // sub 0: 1*2*7 - 0.5*4
  CHECK(y[1] == -2.0f);    // level 0: -0.5*4
  CHECK(y[32] == 0.0f);    // sub 1: scale 0, min 0
  CHECK(y[128] == 0.0f);   // sub 4: scale 0, min 0
  CHECK(y[160] == 89.0f);  // sub 5: 1*33*3 - 0.5*20
  CHECK(y[161] == -10.0f);
}

TEST_CASE("quant known: q5_k dequantize") {
  BlockQ5_K b{};
  b.d = 0x3C00;
  b.dmin = 0x3800;
  const uint8_t ls[8] = {2, 0, 0, 0, 0, 33, 0, 0};
  const uint8_t lm[8] = {4, 0, 0, 0, 0, 20, 0, 0};
  pack_scale_min_k4(ls, lm, b.scales);
  b.qs[0] = 0xF7;
  b.qs[64] = 0x35;
  // Element 160 = chunk 2, upper half -> bit 2*2+1 = 5 of qh[0];
  // element 1 = chunk 0, lower half -> bit 0 of qh[1].
  b.qh[0] = 0x20;
  b.qh[1] = 0x01;
  float y[256];
  dequantize_row_q5_k(&b, y, 256);
  CHECK(y[0] == 12.0f);     // level 7, no high bit
  CHECK(y[1] == 30.0f);     // level 0 | 16: 2*16 - 2
  CHECK(y[160] == 617.0f);  // level 3 | 16 = 19: 33*19 - 10
  CHECK(y[128] == 0.0f);
}

TEST_CASE("quant known: q6_k dequantize") {
  BlockQ6_K b{};
  b.d = 0x3800;  // 0.5
  b.scales[0] = 3;
  b.scales[13] = -2;
  // Element 0: low nibble of ql[0], bits 0-1 of qh[0].
  b.ql[0] = 0x05;
  b.qh[0] = 0x02;  // level 5 | 2 << 4 = 37 -> 37 - 32 = 5 -> 0.5*3*5
  // Element 213 = 128 + 64 + 21: second half, third quarter, l = 21 ->
  // high nibble of ql[64 + 21], bits 4-5 of qh[32 + 21]; scale 213/16 = 13.
  b.ql[85] = 0xA0;
  b.qh[53] = 0x30;  // level 10 | 3 << 4 = 58 -> 26 -> 0.5*(-2)*26
  float y[256];
  dequantize_row_q6_k(&b, y, 256);
  CHECK(y[0] == 7.5f);
  CHECK(y[213] == -26.0f);
  CHECK(y[1] == 0.5f * 3 * -32);  // all-zero bits: level 0 -> -32
  CHECK(y[149] == 0.0f);          // 128 + 21: scale 9 is 0
}

TEST_CASE("quant known: q6_k quantizes integer data exactly") {
  // Integers in [-32, 31] with -32 in every 16-group: make_qx_quants finds
  // iscale = -32 / -32 = 1 and scale 1 (zero error; no other grid beats it),
  // so iscale = -128, d = -1/128 (f16 0xA000) and every scale is -128.
  float x[256];
  for (int i = 0; i < 256; ++i) {
    x[i] = static_cast<float>((i * 5) % 64 - 32);
  }
  for (int j = 0; j < 16; ++j) x[16 * j] = -32.0f;
  BlockQ6_K b{};
  quantize_row_q6_k(x, &b, 256);
  CHECK(b.d == 0xA000);
  for (int j = 0; j < 16; ++j) CHECK(b.scales[j] == -128);
  float y[256];
  dequantize_row_q6_k(&b, y, 256);
  for (int i = 0; i < 256; ++i) {
    CAPTURE(i);
    CHECK(y[i] == x[i]);
  }
}

// Integers in [0, nmax] with 0 and nmax in every 32-group: make_qkx2_quants
// finds scale 1 and min 0 with zero error, so d = f16(1/63) (2^-6 * (1 +
// 16/1024) = 0x2410), dmin = 0, every 6-bit scale 63, min 0, and the levels
// are the inputs (x / (63 * 0.0158691) rounds back to x for x <= 31).
template <typename Block>
void check_k_integer_levels(int nmax, void (*quantize)(const float*, void*,
                                                       int64_t),
                            int (*level)(const Block&, int)) {
  float x[256];
  for (int i = 0; i < 256; ++i) x[i] = static_cast<float>((i * 7) % (nmax + 1));
  for (int j = 0; j < 8; ++j) {
    x[32 * j] = 0.0f;
    x[32 * j + 1] = static_cast<float>(nmax);
  }
  Block b{};
  quantize(x, &b, 256);
  CHECK(b.d == 0x2410);
  CHECK(b.dmin == 0);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, b.scales, &sc, &m);
    CHECK(sc == 63);
    CHECK(m == 0);
  }
  for (int i = 0; i < 256; ++i) {
    CAPTURE(i);
    CHECK(level(b, i) == static_cast<int>(x[i]));
  }
}

TEST_CASE("quant known: q4_k and q5_k quantize integer data to its levels") {
  check_k_integer_levels<BlockQ4_K>(15, quantize_row_q4_k, q4_k_level);
  check_k_integer_levels<BlockQ5_K>(31, quantize_row_q5_k, q5_k_level);
}

TEST_CASE("quant known: vec_dot on hand-made blocks") {
  // Q8_0 x Q8_0: d = 1 and 0.5, levels 3,-2 and 4,6 (rest 0):
  // (3*4 + -2*6) * 1 * 0.5 = 0.
  BlockQ8_0 w{}, a{};
  w.d = 0x3C00;
  a.d = 0x3800;
  w.qs[0] = 3;
  w.qs[1] = -2;
  a.qs[0] = 4;
  a.qs[1] = 6;
  CHECK(vec_dot_q8_0_q8_0(32, &w, &a) == 0.0f);
  a.qs[1] = 5;  // 12 - 10 = 2 -> 2 * 0.5 = 1
  CHECK(vec_dot_q8_0_q8_0(32, &w, &a) == 1.0f);

  // Q4_1 x Q8_1: weights d=0.5, m=-1 with level 10 at element 0 (value 4)
  // and level 0 elsewhere (value -1); activation d=1, a[0]=2, a[5]=3,
  // s = 5 (f16 0x4500). Dot = 4*2 + (-1)*3 = 5; via the kernel:
  // d_w*d_a*sum(q*a) + m*s = 0.5*1*(10*2) + (-1)*5 = 5.
  BlockQ4_1 w1{};
  w1.d = 0x3800;
  w1.m = 0xBC00;
  w1.qs[0] = 0x0A;
  BlockQ8_1 a1{};
  a1.d = 0x3C00;
  a1.qs[0] = 2;
  a1.qs[5] = 3;
  a1.s = 0x4500;  // 5 = 2^2 * 1.25 -> exponent 17, mantissa 256
  CHECK(vec_dot_q4_1_q8_1(32, &w1, &a1) == 5.0f);

  // Q4_K x Q8_K: the q4_k dequantize block above against a = e_0 + e_160
  // (d = 1): 12 + 89 = 101. bsums give the min part: group 0 sum 1 and
  // group 10 sum 1.
  BlockQ4_K wk{};
  wk.d = 0x3C00;
  wk.dmin = 0x3800;
  const uint8_t ls[8] = {2, 0, 0, 0, 0, 33, 0, 0};
  const uint8_t lm[8] = {4, 0, 0, 0, 0, 20, 0, 0};
  pack_scale_min_k4(ls, lm, wk.scales);
  wk.qs[0] = 0xF7;
  wk.qs[64] = 0x35;
  BlockQ8_K ak{};
  ak.d = 1.0f;
  ak.qs[0] = 1;
  ak.qs[160] = 1;
  ak.bsums[0] = 1;
  ak.bsums[10] = 1;
  CHECK(vec_dot_q4_k_q8_k(256, &wk, &ak) == 101.0f);
}

}  // namespace
}  // namespace moerun
