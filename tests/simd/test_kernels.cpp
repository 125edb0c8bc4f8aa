// Every block-format kernel of every ISA this CPU runs, against the scalar
// reference in quant/: dot, GEMV and GEMM tiles (B = 1..17, N not a multiple
// of any tile, odd block counts, an output row mapping), the activation
// quantizers byte for byte, and the float ops.
//
// Tolerance: |simd - scalar| <= 1e-5 * sum_k |w_k a_k| (over the dequantized
// operands). The integer block sums are exact in both; what differs is the
// order of the f32 additions, whose error is bounded by the sum of absolute
// terms, not by the (possibly cancelling) result. Q6_K has no tolerance:
// its kernels keep the scalar float order (a test of its own below).
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "quant/format.h"
#include "simd/dispatch.h"
#include "simd/scalar/scalar.h"
#include "tests/quant/q6_k_rows.h"

namespace moerun {
namespace {

std::vector<Isa> runnable_isas() {
  std::vector<Isa> v;
  for (int i = 0; i < kIsaCount; ++i) {
    if (isa_supported(static_cast<Isa>(i))) v.push_back(static_cast<Isa>(i));
  }
  return v;
}

// Random rows whose 32-element groups have scales spread over e^-3..e^3, so
// blocks with very different d meet in one dot.
std::vector<float> random_rows(std::mt19937& rng, int64_t rows, int64_t K) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::uniform_real_distribution<float> ud(-3.f, 3.f);
  std::vector<float> v(static_cast<size_t>(rows * K));
  float scale = 1.f;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i % 32 == 0) scale = std::exp(ud(rng));
    v[i] = nd(rng) * scale;
  }
  return v;
}

struct Quantized {
  std::vector<uint8_t> bytes;
  std::vector<float> deq;  // dequantized values (for the tolerance)
  size_t row = 0;
};

Quantized quantize_rows(const FormatTraits& f, const std::vector<float>& x, int64_t rows, int64_t K) {
  Quantized q;
  q.row = row_bytes(f.type, K);
  q.bytes.resize(q.row * static_cast<size_t>(rows) + 64);  // slack: a read past a row end shows in ASan
  q.deq.resize(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    f.quantize(x.data() + r * K, q.bytes.data() + r * q.row, K);
    f.dequantize(q.bytes.data() + r * q.row, q.deq.data() + r * K, K);
  }
  return q;
}

// rows x K random values (random_rows) in format f.
Quantized random_quantized(std::mt19937& rng, const FormatTraits& f, int64_t rows, int64_t K) {
  return quantize_rows(f, random_rows(rng, rows, K), rows, K);
}

// N weight rows (w_row bytes apart) x B activation rows (a_row apart) of
// K elements, out to y with ldy N.
MatmulArgs matmul_args(const uint8_t* w, size_t w_row, const uint8_t* a, size_t a_row, int64_t K, int64_t N,
                       int64_t B, float* y) {
  MatmulArgs p;
  p.K = K;
  p.w = w;
  p.w_stride = w_row;
  p.N = N;
  p.a = a;
  p.a_stride = a_row;
  p.B = B;
  p.y = y;
  p.ldy = N;
  return p;
}

std::vector<int64_t> test_ks(const FormatTraits& f) {
  if (f.block_size == 1) return {1, 13, 31, 97, 300};
  // Odd block counts. 37 and 293 blocks also reach the batched decode GEMV's
  // whole 16-block batches, a padded last batch and (293 > 256) a second
  // pass over K (simd/avx512/q_legacy_gemv.cpp); 37 super-blocks, a second
  // pass of the Q4_K decode GEMVs (simd/avx512/q4_k_gemv.cpp,
  // simd/avx2/q4_k_gemv_impl.h). The AVX2 GEMV's 8-block batches
  // (simd/avx2/q_legacy_gemv_impl.h) end in partial batches of 1, 3, 5 and
  // (15 blocks) 7 blocks. Rows of 1, 2, 4 and 8 blocks are several whole
  // rows to one batch in AVX-512 Q4_0's short-row kernel
  // (simd/avx512/q4_0_block_lanes.cpp), N = 13 ending in a partial one.
  if (f.block_size == 32) return {32, 2 * 32, 3 * 32, 4 * 32, 8 * 32, 9 * 32, 15 * 32, 37 * 32, 293 * 32};
  return {f.block_size, 3 * f.block_size, 9 * f.block_size, 37 * f.block_size};
}

TEST_CASE("simd: every ISA's dot/GEMV/GEMM matches the scalar reference for every format") {
  const KernelTable& ref = kernel_table(Isa::Scalar);
  size_t nf = 0;
  const FormatTraits* formats = all_formats(&nf);
  std::mt19937 rng(1234);
  constexpr int64_t N = 13;  // not a multiple of any row tile (1, 2, 4)
  constexpr int64_t kMaxB = 17;
  int checked_isas = 0;
  for (Isa isa : runnable_isas()) {
    ++checked_isas;
    const KernelTable& kt = kernel_table(isa);
    for (size_t fi = 0; fi < nf; ++fi) {
      const FormatTraits& wf = formats[fi];
      const FormatTraits& af = format_traits(wf.vec_dot_type);
      for (int64_t K : test_ks(wf)) {
        CAPTURE(std::string(kt.name));
        CAPTURE(std::string(wf.name));
        CAPTURE(K);
        const Quantized w = random_quantized(rng, wf, N, K);
        const Quantized a = random_quantized(rng, af, kMaxB, K);
        std::vector<float> want(N * kMaxB), bound(N * kMaxB);
        for (int64_t b = 0; b < kMaxB; ++b) {
          for (int64_t n = 0; n < N; ++n) {
            want[b * N + n] = ref.of(wf.type).dot(K, w.bytes.data() + n * w.row, a.bytes.data() + b * a.row);
            double s = 0;
            for (int64_t k = 0; k < K; ++k) s += std::fabs(static_cast<double>(w.deq[n * K + k]) * a.deq[b * K + k]);
            bound[b * N + n] = static_cast<float>(1e-5 * s + 1e-30);
          }
        }
        const FormatKernels& fk = kt.of(wf.type);
        // dot
        for (int64_t n = 0; n < N; ++n) {
          const float got = fk.dot(K, w.bytes.data() + n * w.row, a.bytes.data());
          REQUIRE(std::fabs(got - want[n]) <= bound[n]);
        }
        for (int64_t B = 1; B <= kMaxB; ++B) {
          CAPTURE(B);
          // Output rows reversed: the mapping must place each activation row.
          std::vector<int32_t> out_rows(B);
          for (int64_t b = 0; b < B; ++b) out_rows[b] = static_cast<int32_t>(B - 1 - b);
          std::vector<float> y(N * B, NAN), ym(N * B, NAN);
          MatmulArgs p = matmul_args(w.bytes.data(), w.row, a.bytes.data(), a.row, K, N, B, y.data());
          (B == 1 ? fk.gemv : fk.gemm)(p);
          MatmulArgs pm = p;
          pm.y = ym.data();
          pm.out_rows = out_rows.data();
          fk.gemm(pm);
          for (int64_t b = 0; b < B; ++b) {
            for (int64_t n = 0; n < N; ++n) {
              REQUIRE(std::fabs(y[b * N + n] - want[b * N + n]) <= bound[b * N + n]);
              REQUIRE(std::fabs(ym[(B - 1 - b) * N + n] - want[b * N + n]) <= bound[b * N + n]);
            }
          }
          if (B == 1) {
            // GEMM tile and GEMV agree on the same single row.
            std::vector<float> yg(N);
            MatmulArgs pg = p;
            pg.y = yg.data();
            fk.gemm(pg);
            for (int64_t n = 0; n < N; ++n) REQUIRE(std::fabs(yg[n] - y[n]) <= 2 * bound[n]);
          }
        }
      }
    }
  }
  CHECK(checked_isas >= 1);
}

// Q6_K must give llama.cpp's portable-build floats (quant/q6_k.h), so every
// ISA's kernels must equal the scalar reference bit for bit, not within a
// tolerance: the dot, the GEMV, the GEMM tiles with any B and N (remainder
// rows and columns of every tile size), with and without an output row
// mapping, and 33 or more super-blocks (past the old GEMV's 32-block passes).
TEST_CASE("simd: every ISA's Q6_K dot/GEMV/GEMM equal the scalar reference bit for bit") {
  const KernelTable& ref = kernel_table(Isa::Scalar);
  std::mt19937 rng(606);
  constexpr int64_t kMaxB = 17;
  auto same = [](float got, float want) { return std::bit_cast<uint32_t>(got) == std::bit_cast<uint32_t>(want); };
  int checked = 0;
  for (int64_t blocks : {1, 2, 3, 8, 9, 33}) {
    for (int64_t N : {1, 3, 6, 13}) {
      const int64_t K = 256 * blocks;
      const size_t w_row = sizeof(BlockQ6_K) * blocks, a_row = sizeof(BlockQ8_K) * blocks;
      const std::vector<BlockQ6_K> wb = test::random_q6_k_blocks(rng, N * blocks);
      const std::vector<BlockQ8_K> ab = test::random_q8_k_blocks(rng, kMaxB * blocks);
      const auto* w = reinterpret_cast<const uint8_t*>(wb.data());
      const auto* a = reinterpret_cast<const uint8_t*>(ab.data());
      std::vector<float> want(N * kMaxB);
      for (int64_t b = 0; b < kMaxB; ++b) {
        for (int64_t n = 0; n < N; ++n) want[b * N + n] = ref.of(QType::Q6_K).dot(K, w + n * w_row, a + b * a_row);
      }
      for (Isa isa : runnable_isas()) {
        const FormatKernels& fk = kernel_table(isa).of(QType::Q6_K);
        CAPTURE(std::string(kernel_table(isa).name));
        CAPTURE(K);
        CAPTURE(N);
        for (int64_t b = 0; b < kMaxB; ++b) {
          for (int64_t n = 0; n < N; ++n) REQUIRE(same(fk.dot(K, w + n * w_row, a + b * a_row), want[b * N + n]));
        }
        for (int64_t B = 1; B <= kMaxB; ++B) {
          CAPTURE(B);
          std::vector<int32_t> out_rows(B);
          for (int64_t b = 0; b < B; ++b) out_rows[b] = static_cast<int32_t>(B - 1 - b);
          std::vector<float> y(N * B, NAN), yg(N * B, NAN), ym(N * B, NAN);
          MatmulArgs p = matmul_args(w, w_row, a, a_row, K, N, B, y.data());
          if (B == 1) fk.gemv(p);
          p.y = yg.data();
          fk.gemm(p);
          p.y = ym.data();
          p.out_rows = out_rows.data();
          fk.gemm(p);
          for (int64_t b = 0; b < B; ++b) {
            for (int64_t n = 0; n < N; ++n) {
              if (B == 1) REQUIRE(same(y[n], want[n]));
              REQUIRE(same(yg[b * N + n], want[b * N + n]));
              REQUIRE(same(ym[(B - 1 - b) * N + n], want[b * N + n]));
            }
          }
          ++checked;
        }
      }
    }
  }
  CHECK(checked > 0);
}

TEST_CASE("simd: packed-activation GEMMs match the scalar reference") {
  const KernelTable& ref = kernel_table(Isa::Scalar);
  size_t nf = 0;
  const FormatTraits* formats = all_formats(&nf);
  std::mt19937 rng(4321);
  int checked = 0;
  for (Isa isa : runnable_isas()) {
    const KernelTable& kt = kernel_table(isa);
    for (size_t fi = 0; fi < nf; ++fi) {
      const FormatTraits& wf = formats[fi];
      const FormatKernels& fk = kt.of(wf.type);
      if (fk.gemm_packed == nullptr) continue;
      const FormatTraits& af = format_traits(wf.vec_dot_type);
      // Row tiles and their remainders (AVX-512: 32 rows, in vectors of 16),
      // several tiles; 1, 2 and 3 column groups with a partial last one; K
      // over one and several passes (Q4_K: 2 super-blocks; legacy: 32 blocks).
      for (int64_t N : {5, 8, 21, 45}) {
        for (int64_t B : {16, 17, 40}) {
          for (int64_t K : {wf.block_size, 3 * wf.block_size, 150 * wf.block_size}) {
            CAPTURE(std::string(kt.name));
            CAPTURE(std::string(wf.name));
            CAPTURE(N);
            CAPTURE(B);
            CAPTURE(K);
            ++checked;
            const Quantized w = random_quantized(rng, wf, N, K);
            const Quantized a = random_quantized(rng, af, B, K);
            std::vector<uint8_t> packed(fk.packed_act_bytes(B, K));
            const int64_t groups = (B + 15) / 16;
            fk.pack_act(a.bytes.data(), a.row, B, K, 0, 1, packed.data());
            fk.pack_act(a.bytes.data(), a.row, B, K, 1, groups, packed.data());  // in two calls, as threads do
            std::vector<int32_t> out_rows(B);
            for (int64_t b = 0; b < B; ++b) out_rows[b] = static_cast<int32_t>(B - 1 - b);
            std::vector<float> y(N * B, NAN);
            MatmulArgs p = matmul_args(w.bytes.data(), w.row, packed.data(), 0, K, N, B, y.data());
            p.out_rows = out_rows.data();
            fk.gemm_packed(p);
            for (int64_t b = 0; b < B; ++b) {
              for (int64_t n = 0; n < N; ++n) {
                const float want = ref.of(wf.type).dot(K, w.bytes.data() + n * w.row, a.bytes.data() + b * a.row);
                double sum = 0;
                for (int64_t k = 0; k < K; ++k) sum += std::fabs(double{w.deq[n * K + k]} * a.deq[b * K + k]);
                REQUIRE(std::fabs(y[(B - 1 - b) * N + n] - want) <= 1e-5 * sum + 1e-30);
              }
            }
          }
        }
      }
    }
  }
  MESSAGE("packed GEMM cases checked: " << checked);
}

TEST_CASE("simd: activation quantizers are byte-identical to the scalar ones") {
  const KernelTable& ref = kernel_table(Isa::Scalar);
  std::mt19937 rng(99);
  const QType acts[] = {QType::Q8_0, QType::Q8_1, QType::Q8_K, QType::F16, QType::BF16, QType::F32};
  for (Isa isa : runnable_isas()) {
    const KernelTable& kt = kernel_table(isa);
    for (QType t : acts) {
      const FormatTraits& f = format_traits(t);
      const int64_t K = f.block_size == 1 ? 301 : 5 * (f.block_size == 256 ? 256 : 32) * (f.block_size == 256 ? 1 : 8);
      CAPTURE(std::string(kt.name));
      CAPTURE(std::string(f.name));
      std::vector<float> x = random_rows(rng, 1, K);
      // Exact ties after scaling: block 0 has amax 127 (d = 1), so 2.5 and
      // -3.5 are ties, for Q8_0/Q8_1 (x * 127/amax, round half even, as
      // llama.cpp's x86 CPU backend) and, with the extreme negative, for Q8_K
      // (iscale = 1, round half even).
      x[0] = -127.f;
      x[1] = 2.5f;
      x[2] = -3.5f;
      x[3] = 126.5f;
      x[4] = 0.5f;
      // An all-zero block.
      if (f.block_size > 1) std::fill(x.begin() + f.block_size, x.begin() + 2 * f.block_size, 0.f);
      const size_t bytes = row_bytes(t, K);
      std::vector<uint8_t> want(bytes), got(bytes, 0xAB);
      ref.of(t).quantize(x.data(), want.data(), K);
      kt.of(t).quantize(x.data(), got.data(), K);
      CHECK(std::memcmp(want.data(), got.data(), bytes) == 0);
    }
  }
}

bool close(float got, float want, float scale) { return std::fabs(got - want) <= 1e-5f * scale + 1e-30f; }

TEST_CASE("simd: float ops match the scalar ones") {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 2.f);
  for (Isa isa : runnable_isas()) {
    const FloatKernels& f = kernel_table(isa).f;
    CAPTURE(std::string(kernel_table(isa).name));
    for (int64_t n : {1, 7, 16, 33, 64, 1000, 4099}) {
      CAPTURE(n);
      std::vector<float> x(n), w(n), u(n);
      for (auto* v : {&x, &w, &u})
        for (float& e : *v) e = nd(rng);
      std::vector<float> want(n), got(n);
      scalar::rms_norm(x.data(), w.data(), want.data(), n, 1e-5f);
      f.rms_norm(x.data(), w.data(), got.data(), n, 1e-5f);
      for (int64_t i = 0; i < n; ++i) REQUIRE(close(got[i], want[i], std::fabs(want[i])));
      scalar::rms_norm(x.data(), nullptr, want.data(), n, 1e-5f);
      f.rms_norm(x.data(), nullptr, got.data(), n, 1e-5f);
      for (int64_t i = 0; i < n; ++i) REQUIRE(close(got[i], want[i], std::fabs(want[i])));

      want = x;
      got = x;
      scalar::softmax_inplace(want.data(), n);
      f.softmax_inplace(got.data(), n);
      for (int64_t i = 0; i < n; ++i) REQUIRE(close(got[i], want[i], std::fabs(want[i])));

      scalar::silu_mul(x.data(), u.data(), want.data(), n);
      f.silu_mul(x.data(), u.data(), got.data(), n);
      for (int64_t i = 0; i < n; ++i) REQUIRE(close(got[i], want[i], std::fabs(want[i])));

      want = w;
      got = w;
      scalar::add_inplace(want.data(), x.data(), n);
      f.add_inplace(got.data(), x.data(), n);
      for (int64_t i = 0; i < n; ++i) REQUIRE(got[i] == want[i]);
      scalar::axpy(want.data(), 0.37f, u.data(), n);
      f.axpy(got.data(), 0.37f, u.data(), n);
      for (int64_t i = 0; i < n; ++i) REQUIRE(close(got[i], want[i], std::fabs(want[i]) + 0.37f * std::fabs(u[i])));

      double abs_sum = 0;
      for (int64_t i = 0; i < n; ++i) abs_sum += std::fabs(static_cast<double>(x[i]) * u[i]);
      REQUIRE(close(f.dot_f32(x.data(), u.data(), n), scalar::dot_f32(x.data(), u.data(), n),
                    static_cast<float>(abs_sum)));
    }
  }
}

TEST_CASE("simd: the attention tile products (scores, o += p v) match the scalar ones") {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (Isa isa : runnable_isas()) {
    const FloatKernels& f = kernel_table(isa).f;
    CAPTURE(std::string(kernel_table(isa).name));
    // M: decode (1 to 8 and 16 rows), prefill tiles (64), odd counts; N: a block
    // of keys (8), its tails, a page; D: MLA's 576/512, GQA's 128, tails.
    for (int64_t M : {1, 2, 3, 5, 8, 16, 17, 33, 64}) {
      for (int64_t N : {1, 4, 7, 8, 9, 17, 64}) {
        for (int64_t D : {1, 15, 16, 33, 100, 128, 512, 576}) {
          CAPTURE(M);
          CAPTURE(N);
          CAPTURE(D);
          const int64_t ldt = (M + 15) / 16 * 16 + (M % 2) * 16;  // a multiple of 16, at times wider than needed
          // Row strides wider than the rows, as in the KV cache's pages.
          const int64_t ldk = D + 5, ldv = D + 7, ldo = D + 1;
          std::vector<float> qt(D * ldt), k(N * ldk), p(N * ldt), v(N * ldv), o0(M * ldo);
          for (auto* x : {&qt, &k, &p, &v, &o0})
            for (float& e : *x) e = nd(rng);
          // Key and value rows by pointer, in no order (a tile's keys come
          // from several runs of the cache).
          std::vector<const float*> kr(N), vr(N);
          for (int64_t j = 0; j < N; ++j) {
            kr[j] = k.data() + (N - 1 - j) * ldk;
            vr[j] = v.data() + (j * 5 % N) * ldv;
          }
          std::vector<float> want(N * ldt, 0.f), got(N * ldt, 0.f);
          scalar::attn_scores_f32(qt.data(), ldt, M, kr.data(), N, D, want.data(), nullptr, 0);
          f.attn_scores_f32(qt.data(), ldt, M, kr.data(), N, D, got.data(), M % 2 ? vr.data() : nullptr, D);
          for (int64_t j = 0; j < N; ++j) {
            for (int64_t i = 0; i < M; ++i) {
              double abs_sum = 0;
              for (int64_t d = 0; d < D; ++d) abs_sum += std::fabs(double{qt[d * ldt + i]} * kr[j][d]);
              REQUIRE(close(got[j * ldt + i], want[j * ldt + i], static_cast<float>(abs_sum)));
            }
          }
          std::vector<float> ow = o0, og = o0;
          scalar::attn_values_f32(p.data(), ldt, M, vr.data(), N, D, ow.data(), ldo);
          f.attn_values_f32(p.data(), ldt, M, vr.data(), N, D, og.data(), ldo);
          for (int64_t i = 0; i < M; ++i) {
            for (int64_t d = 0; d < ldo; ++d) {
              if (d >= D) {  // past the row: untouched
                REQUIRE(og[i * ldo + d] == o0[i * ldo + d]);
                continue;
              }
              double abs_sum = std::fabs(o0[i * ldo + d]);
              for (int64_t j = 0; j < N; ++j) abs_sum += std::fabs(double{p[j * ldt + i]} * vr[j][d]);
              REQUIRE(close(og[i * ldo + d], ow[i * ldo + d], static_cast<float>(abs_sum)));
            }
          }
        }
      }
    }
  }
}

TEST_CASE("simd: a b over bfloat16 columns in groups of 16 (gemm_g16_bf16) gives the scalar fmas bit for bit") {
  std::mt19937 rng(12);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (Isa isa : runnable_isas()) {
    const FloatKernels& f = kernel_table(isa).f;
    CAPTURE(std::string(kernel_table(isa).name));
    for (int64_t M : {1, 5, 8, 13, 16, 32}) {
      for (int64_t N : {16, 32, 48, 64, 112}) {
        for (int64_t D : {1, 33, 576}) {
          for (bool accumulate : {false, true}) {
            CAPTURE(M);
            CAPTURE(N);
            CAPTURE(D);
            CAPTURE(accumulate);
            // Groups further apart than their own D x 16 floats, as in the
            // cache's bounds (max then min channels).
            const int64_t lda = 2 * D + 3, ldg = 2 * D * 16, lds = N + 5;
            std::vector<float> a(M * lda), s0(M * lds);
            for (auto* x : {&a, &s0})
              for (float& e : *x) e = nd(rng);
            std::vector<uint16_t> b(N / 16 * ldg);
            for (uint16_t& e : b) e = static_cast<uint16_t>(std::bit_cast<uint32_t>(nd(rng)) >> 16);
            std::vector<float> want = s0, got = s0;
            scalar::gemm_g16_bf16(a.data(), lda, M, b.data(), ldg, N, D, want.data(), lds, accumulate);
            f.gemm_g16_bf16(a.data(), lda, M, b.data(), ldg, N, D, got.data(), lds, accumulate);
            for (int64_t i = 0; i < M; ++i) {
              for (int64_t j = 0; j < lds; ++j) REQUIRE(got[i * lds + j] == want[i * lds + j]);
            }
            // Against plain float64 sums, so the reference itself is checked.
            for (int64_t i = 0; i < M; ++i) {
              for (int64_t j = 0; j < N; ++j) {
                double t = accumulate ? s0[i * lds + j] : 0.0, mag = std::fabs(t);
                for (int64_t d = 0; d < D; ++d) {
                  const uint16_t h = b[(j / 16) * ldg + d * 16 + j % 16];
                  const double p = double{a[i * lda + d]} * std::bit_cast<float>(static_cast<uint32_t>(h) << 16);
                  t += p;
                  mag += std::fabs(p);
                }
                REQUIRE(close(want[i * lds + j], static_cast<float>(t), static_cast<float>(mag)));
              }
            }
          }
        }
      }
    }
  }
}

// A GEMM over the first B rows of a, for each B in bs, gives every output
// exactly the floats of a GEMV of its activation row alone.
void require_gemv_floats(const FormatKernels& fk, const Quantized& w, const Quantized& a, int64_t K, int64_t N,
                         int64_t rows_of_a, std::initializer_list<int64_t> bs) {
  std::vector<float> alone(N * rows_of_a);
  for (int64_t b = 0; b < rows_of_a; ++b) {
    fk.gemv(matmul_args(w.bytes.data(), w.row, a.bytes.data() + b * a.row, a.row, K, N, 1, alone.data() + b * N));
  }
  for (int64_t B : bs) {
    CAPTURE(B);
    std::vector<float> got(N * B, NAN);
    fk.gemm(matmul_args(w.bytes.data(), w.row, a.bytes.data(), a.row, K, N, B, got.data()));
    for (int64_t i = 0; i < N * B; ++i) REQUIRE(got[i] == alone[i]);
  }
}

TEST_CASE("simd: up to 8 activation rows, each output gets the GEMV's floats on every ISA") {
  // Batched decode hands an expert the 1-8 tokens of its step that chose it;
  // a sequence's greedy answer in `batch` must not depend on the others, so
  // each of those columns must come out as a GEMV of it alone would. 65
  // blocks of 32 pass one 64-block pass of K; 293 blocks, the GEMV's 256.
  // 65, 88 and 293 blocks end in partial batches of 1, 8 and 5 blocks,
  // which AVX-512 Q4_0 runs two rows to a batch in its 4- and 2-row tiles
  // (1-4 columns) and one row at a time in the rest (N = 13: the last row;
  // 5-8 columns): the two must agree.
  std::mt19937 rng(4242);
  constexpr int64_t N = 13;
  constexpr int64_t kMaxB = 8;
  int checked = 0;
  for (Isa isa : runnable_isas()) {
    const KernelTable& kt = kernel_table(isa);
    for (QType t : {QType::Q4_0, QType::Q4_1, QType::Q5_0, QType::Q5_1, QType::Q8_0, QType::Q4_K, QType::Q5_K,
                    QType::Q6_K, QType::F32, QType::F16, QType::BF16}) {
      const FormatTraits& wf = format_traits(t);
      const FormatTraits& af = format_traits(wf.vec_dot_type);
      const int64_t bs = wf.block_size;
      const std::vector<int64_t> ks = bs == 32    ? std::vector<int64_t>{4 * 32, 9 * 32, 65 * 32, 88 * 32, 293 * 32}
                                      : bs == 1   ? std::vector<int64_t>{97, 2816}
                                                  : std::vector<int64_t>{3 * bs, 11 * bs, 37 * bs};
      for (int64_t K : ks) {
        CAPTURE(std::string(kt.name));
        CAPTURE(std::string(wf.name));
        CAPTURE(K);
        const Quantized w = random_quantized(rng, wf, N, K);
        const Quantized a = random_quantized(rng, af, kMaxB, K);
        require_gemv_floats(kt.of(t), w, a, K, N, kMaxB, {2, 3, 4, 5, 6, 7, 8});
        checked += kMaxB - 1;
      }
    }
  }
  CHECK(checked > 0);
}

TEST_CASE("simd: AVX-512 Q4_0 gives the GEMV's floats past 8 activation rows and 64-row tiles") {
  // Its unpacked GEMM serves any B (the shared expert of a decode step of
  // more than 8 sequences): columns in groups of 8 over 64-row tiles, each
  // output summed as the GEMV sums it. Short rows (K = 128, MLA's W_kb) go
  // 4 to a batch, every column over each.
  bool have = false;
  for (Isa isa : runnable_isas()) have = have || isa == Isa::Avx512;
  if (!have) return;
  const KernelTable& kt = kernel_table(Isa::Avx512);
  const FormatTraits& wf = format_traits(QType::Q4_0);
  const FormatTraits& af = format_traits(wf.vec_dot_type);
  std::mt19937 rng(909);
  constexpr int64_t N = 150;  // two full 64-row tiles and a partial one
  constexpr int64_t kMaxB = 15;
  for (int64_t K : {int64_t{4 * 32}, int64_t{16 * 32}, int64_t{44 * 32}, int64_t{293 * 32}}) {
    CAPTURE(K);
    const Quantized w = random_quantized(rng, wf, N, K);
    const Quantized a = random_quantized(rng, af, kMaxB, K);
    require_gemv_floats(kt.of(QType::Q4_0), w, a, K, N, kMaxB, {9, 12, kMaxB});
  }
}

TEST_CASE("simd: Q8_0 and float-weight matmuls are bit-identical to the scalar reference on every ISA") {
  // ggml's portable order (issue 14): any other float order moves a tiny
  // model's next int8 level now and then, so equality, not a tolerance.
  const KernelTable& ref = kernel_table(Isa::Scalar);
  std::mt19937 rng(77);
  constexpr int64_t N = 37;  // rows past two 16-row tiles
  constexpr int64_t kMaxB = 17;
  for (Isa isa : runnable_isas()) {
    const KernelTable& kt = kernel_table(isa);
    for (QType t : {QType::Q8_0, QType::F32, QType::F16, QType::BF16}) {
      const FormatTraits& wf = format_traits(t);
      const FormatTraits& af = format_traits(wf.vec_dot_type);
      for (int64_t K : {int64_t{32}, int64_t{9 * 32}, int64_t{65 * 32}, int64_t{131 * 32}}) {
        CAPTURE(std::string(kt.name));
        CAPTURE(std::string(wf.name));
        CAPTURE(K);
        const Quantized w = random_quantized(rng, wf, N, K);
        const Quantized a = random_quantized(rng, af, kMaxB, K);
        const FormatKernels& fk = kt.of(t);
        for (int64_t b = 0; b < kMaxB; ++b) {
          for (int64_t n = 0; n < N; ++n) {
            const float want = ref.of(t).dot(K, w.bytes.data() + n * w.row, a.bytes.data() + b * a.row);
            REQUIRE(fk.dot(K, w.bytes.data() + n * w.row, a.bytes.data() + b * a.row) == want);
          }
        }
        for (int64_t B : {int64_t{1}, int64_t{2}, int64_t{5}, int64_t{13}, kMaxB}) {
          CAPTURE(B);
          std::vector<float> want(N * B), got(N * B, NAN);
          MatmulArgs p = matmul_args(w.bytes.data(), w.row, a.bytes.data(), a.row, K, N, B, want.data());
          ref.of(t).gemm(p);
          p.y = got.data();
          (B == 1 ? fk.gemv : fk.gemm)(p);
          for (int64_t i = 0; i < N * B; ++i) REQUIRE(got[i] == want[i]);
        }
        // The packed GEMM, where the ISA has one (AVX-512 Q8_0): from 16
        // columns, a partial register tile and a partial group of 16.
        if (fk.gemm_packed != nullptr) {
          const int64_t B = 2 * 16 + 3;
          const Quantized ab = random_quantized(rng, af, B, K);
          std::vector<uint8_t> packed(fk.packed_act_bytes(B, K));
          fk.pack_act(ab.bytes.data(), ab.row, B, K, 0, (B + 15) / 16, packed.data());
          std::vector<float> want(N * B), got(N * B, NAN);
          MatmulArgs p = matmul_args(w.bytes.data(), w.row, ab.bytes.data(), ab.row, K, N, B, want.data());
          ref.of(t).gemm(p);
          p = matmul_args(w.bytes.data(), w.row, packed.data(), 0, K, N, B, got.data());
          fk.gemm_packed(p);
          for (int64_t i = 0; i < N * B; ++i) REQUIRE(got[i] == want[i]);
        }
      }
    }
  }
}

TEST_CASE("simd: the exact attention products follow ggml's order on every ISA") {
  std::mt19937 rng(21);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int64_t M : {1, 4, 8, 16, 17, 24, 64}) {
    for (int64_t N : {1, 3, 4, 9, 19}) {
      for (int64_t D : {1, 16, 33, 576}) {
        CAPTURE(M);
        CAPTURE(N);
        CAPTURE(D);
        const int64_t ldk = D + 5, lds = N + 2, ldv = D + 7, ldo = D + 1;
        std::vector<float> qt(D * M), k(N * ldk), p(M * lds), v(N * ldv);
        for (auto* x : {&qt, &k, &p, &v})
          for (float& e : *x) e = nd(rng);
        // The definition, written out: d (or j) in order, float products, double sums.
        std::vector<float> want_s(M * lds, 0.f);
        std::vector<double> want_o(M * ldo, 0.5);
        for (int64_t i = 0; i < M; ++i) {
          for (int64_t j = 0; j < N; ++j) {
            double acc = 0;
            for (int64_t d = 0; d < D; ++d) acc += static_cast<double>(qt[d * M + i] * k[j * ldk + d]);
            want_s[i * lds + j] = static_cast<float>(acc);
          }
          for (int64_t d = 0; d < D; ++d) {
            double acc = want_o[i * ldo + d];
            for (int64_t j = 0; j < N; ++j) acc += static_cast<double>(p[i * lds + j] * v[j * ldv + d]);
            want_o[i * ldo + d] = acc;
          }
        }
        for (Isa isa : runnable_isas()) {
          const FloatKernels& f = kernel_table(isa).f;
          CAPTURE(std::string(kernel_table(isa).name));
          std::vector<float> s(M * lds, 0.f);
          f.attn_scores_exact(qt.data(), M, M, k.data(), ldk, N, D, s.data(), lds);
          for (int64_t i = 0; i < M; ++i) {
            for (int64_t j = 0; j < N; ++j) REQUIRE(s[i * lds + j] == want_s[i * lds + j]);
          }
          std::vector<double> o(M * ldo, 0.5);
          f.attn_values_exact(p.data(), lds, M, v.data(), ldv, N, D, o.data(), ldo);
          for (int64_t i = 0; i < M; ++i) {
            for (int64_t d = 0; d < D; ++d) REQUIRE(o[i * ldo + d] == want_o[i * ldo + d]);
          }
        }
      }
    }
  }
}

TEST_CASE("simd: softmax, SiLU and the exponential are bit-identical to the scalar ones on every ISA") {
  // They follow ggml's portable exponential (simd/ggml_exp.h, checked against
  // ggml itself by tests/oracle/ggml_quant_check): equality, not a tolerance.
  std::mt19937 rng(31);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int64_t n : {1, 3, 4, 7, 16, 17, 64, 67, 1408}) {
    for (float scale : {0.5f, 6.f, 60.f}) {
      CAPTURE(n);
      CAPTURE(scale);
      std::vector<float> x(n), up(n);
      for (int64_t i = 0; i < n; ++i) {
        x[i] = nd(rng) * scale;
        up[i] = nd(rng);
      }
      std::vector<float> sm_want = x, ex_want = x, si_want(n);
      scalar::softmax_inplace(sm_want.data(), n);
      scalar::expf_ggml(ex_want.data(), n, 0.25f);
      scalar::silu_mul(x.data(), up.data(), si_want.data(), n);
      for (Isa isa : runnable_isas()) {
        const FloatKernels& f = kernel_table(isa).f;
        CAPTURE(std::string(kernel_table(isa).name));
        std::vector<float> sm = x, ex = x, si(n);
        f.softmax_inplace(sm.data(), n);
        f.expf_ggml(ex.data(), n, 0.25f);
        f.silu_mul(x.data(), up.data(), si.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          REQUIRE(sm[i] == sm_want[i]);
          REQUIRE(ex[i] == ex_want[i]);
          REQUIRE(si[i] == si_want[i]);
        }
      }
    }
  }
}

TEST_CASE("simd: the online softmax block matches the scalar one") {
  std::mt19937 rng(13);
  std::normal_distribution<float> nd(0.f, 3.f);
  for (Isa isa : runnable_isas()) {
    const FloatKernels& f = kernel_table(isa).f;
    CAPTURE(std::string(kernel_table(isa).name));
    for (int64_t N : {1, 5, 16, 37, 64}) {
      CAPTURE(N);
      // 22 rows: a full vector of 16 on AVX-512 and a cut one.
      const int64_t M = 22, ldt = 32;
      std::vector<float> st(N * ldt);
      for (float& e : st) e = nd(rng);
      for (int64_t j = 0; j < N; j += 3) st[j * ldt + 2] = -INFINITY;  // masked keys
      for (int64_t j = 0; j < N; ++j) st[j * ldt + 4] = -INFINITY;     // a row with nothing yet
      for (int64_t j = 0; j < N; ++j) st[j * ldt + 19] = -INFINITY;    // one whose earlier keys count
      // Rows 0 and 4 start fresh, the others carry a running max and sum.
      std::vector<float> m0(ldt, 0.5f), l0(ldt, 2.f);
      m0[0] = m0[4] = -INFINITY;
      l0[0] = l0[4] = 0.f;
      m0[1] = 1.5f, m0[2] = -2.f, m0[5] = 8.f, m0[19] = 0.25f;
      std::vector<float> sw = st, sg = st, mw = m0, mg = m0, lw = l0, lg = l0, rw(ldt), rg(ldt);
      scalar::attn_softmax_f32(sw.data(), ldt, M, N, mw.data(), lw.data(), rw.data());
      f.attn_softmax_f32(sg.data(), ldt, M, N, mg.data(), lg.data(), rg.data());
      for (int64_t i = 0; i < M; ++i) {
        CAPTURE(i);
        REQUIRE(mg[i] == mw[i]);
        REQUIRE(close(lg[i], lw[i], lw[i]));
        REQUIRE(close(rg[i], rw[i], rw[i]));
        for (int64_t j = 0; j < N; ++j) REQUIRE(close(sg[j * ldt + i], sw[j * ldt + i], sw[j * ldt + i]));
      }
      CHECK(rw[4] == 1.0f);
      CHECK(lw[4] == 0.0f);
      CHECK(mw[4] == -INFINITY);
      CHECK(rg[4] == 1.0f);
      CHECK(lg[4] == 0.0f);
      CHECK(rw[19] == 1.0f);
      CHECK(lw[19] == 2.0f);
      for (int64_t j = 0; j < N; ++j) CHECK(sg[j * ldt + 4] == 0.0f);
    }
  }
}

TEST_CASE("simd: the active table is a runnable ISA, the best one unless MOERUN_ISA forces another") {
  const KernelTable& active = kernels();
  CHECK(isa_supported(active.isa));
  const char* env = std::getenv("MOERUN_ISA");
  if (env == nullptr || *env == '\0') {
    for (int i = static_cast<int>(active.isa) + 1; i < kIsaCount; ++i) {
      // A later row that runs here would have been chosen instead.
      CHECK_FALSE(isa_supported(static_cast<Isa>(i)));
    }
  } else {
    CHECK(std::string(active.name) == env);
  }
  CHECK_FALSE(cpu_features().empty());
}

#if defined(MOERUN_BINARY_DIR)
// The CLI reports the choice, and refuses an ISA this CPU (or build) lacks.
std::string run_cmd(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[512];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int st = pclose(p);
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

TEST_CASE("simd: moerun info --system and MOERUN_ISA") {
  const std::string bin = std::string(MOERUN_BINARY_DIR) + "/moerun";
  int st = 0;
  std::string out = run_cmd("MOERUN_ISA=scalar " + bin + " info --system", &st);
  CHECK(st == 0);
  CHECK(out.find("isa: scalar") != std::string::npos);
  CHECK(out.find("threads: ") != std::string::npos);
  out = run_cmd("MOERUN_ISA=sse9 " + bin + " info --system", &st);
  CHECK(st == 2);
  CHECK(out.find("MOERUN_ISA='sse9'") != std::string::npos);
  for (int i = 0; i < kIsaCount; ++i) {
    if (isa_supported(static_cast<Isa>(i))) continue;
    out = run_cmd(std::string("MOERUN_ISA=") + isa_name(static_cast<Isa>(i)) + " " + bin + " info --system", &st);
    CHECK(st == 2);
    CHECK(out.find("not available") != std::string::npos);
  }
}
#endif

}  // namespace
}  // namespace moerun

namespace moerun {
namespace {

TEST_CASE("simd: RoPE from a per-position table is rope_inplace's floats") {
  std::mt19937 rng(41);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> factors(32);
  for (float& f : factors) f = 1.0f + std::fabs(nd(rng));
  for (bool neox : {false, true}) {
    for (bool yarn : {false, true}) {
      RopeParams p;
      p.n_rot = 64;
      p.base = 10000.0f;
      p.neox = neox;
      p.freq_factors = yarn ? nullptr : factors.data();
      if (yarn) {
        p.freq_scale = 0.25f;
        p.ext_factor = 1.0f;
        p.attn_factor = 1.1f;
        p.n_ctx_orig = 4096;
      }
      for (int64_t pos : {0, 1, 37, 5000}) {
        CAPTURE(neox);
        CAPTURE(yarn);
        CAPTURE(pos);
        std::vector<float> x(80), y;
        for (float& v : x) v = nd(rng);
        y = x;
        rope_inplace(x.data(), pos, p);
        std::vector<float> cs(p.n_rot);
        rope_table(pos, p, cs.data());
        rope_apply(y.data(), cs.data(), p);
        for (size_t i = 0; i < x.size(); ++i) REQUIRE(y[i] == x[i]);
      }
    }
  }
}

}  // namespace
}  // namespace moerun
