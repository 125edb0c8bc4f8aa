// Every registered format, through its traits: round-trip error under the
// budget in formats.def, vec_dot against f32 math, edge inputs. Data are
// N(0,1) with each block scaled by its own random factor, so a bug that mixes
// up block scales shows as a large error on the small blocks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "quant/format.h"

namespace moerun {
namespace {

// Scaling unit: the format's block, or 32 elements for F32/F16/BF16.
int64_t scale_group(const FormatTraits& f) {
  return std::max<int64_t>(f.block_size, 32);
}

// N(0,1) times a per-group factor, log-uniform in [1/20, 20].
std::vector<float> scaled_gaussian(int64_t n, int64_t group, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> log_scale(std::log(0.05f),
                                                  std::log(20.0f));
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t g = 0; g < n; g += group) {
    const float s = std::exp(log_scale(rng));
    for (int64_t i = g; i < std::min(n, g + group); ++i) x[i] = s * normal(rng);
  }
  return x;
}

std::vector<uint8_t> quantize(const FormatTraits& f, const float* x,
                              int64_t n) {
  std::vector<uint8_t> q(row_bytes(f.type, n));
  f.quantize(x, q.data(), n);
  return q;
}

std::vector<float> dequantize(const FormatTraits& f, const void* q,
                              int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  f.dequantize(q, y.data(), n);
  return y;
}

// sqrt(mean over groups of |x - y|^2 / |x|^2): RMS(x - y)/RMS(x) measured
// in each group's own units, so every group counts equally.
double group_relative_rms(const std::vector<float>& x,
                          const std::vector<float>& y, int64_t group) {
  double total = 0;
  int64_t groups = 0;
  for (size_t g = 0; g < x.size(); g += static_cast<size_t>(group)) {
    double err = 0, ref = 0;
    for (size_t i = g; i < g + static_cast<size_t>(group); ++i) {
      err += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
      ref += static_cast<double>(x[i]) * x[i];
    }
    total += err / ref;
    ++groups;
  }
  return std::sqrt(total / static_cast<double>(groups));
}

double norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

std::vector<const FormatTraits*> formats() {
  size_t count = 0;
  const FormatTraits* all = all_formats(&count);
  std::vector<const FormatTraits*> out;
  for (size_t i = 0; i < count; ++i) out.push_back(&all[i]);
  return out;
}

TEST_CASE("quant round trip: error under each format's budget") {
  for (const FormatTraits* f : formats()) {
    for (int64_t blocks : {1, 3, 7, 64}) {
      const int64_t n = blocks * scale_group(*f);
      const std::string name = f->name;
      CAPTURE(name);
      CAPTURE(n);
      const int64_t group = scale_group(*f);
      const auto x = scaled_gaussian(n, group, 1234u + static_cast<uint32_t>(n));
      const auto q = quantize(*f, x.data(), n);
      const auto y = dequantize(*f, q.data(), n);
      const double err = group_relative_rms(x, y, group);
      CHECK(err <= f->round_trip_budget);
      // Unscaled N(0,1), the budget's own definition.
      std::mt19937 rng(99u);
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::vector<float> unit(static_cast<size_t>(n));
      for (float& v : unit) v = normal(rng);
      const auto q1 = quantize(*f, unit.data(), n);
      const auto y1 = dequantize(*f, q1.data(), n);
      CHECK(group_relative_rms(unit, y1, n) <= f->round_trip_budget);
    }
  }
}

TEST_CASE("quant round trip: dequantize(quantize(x)) is a fixed point") {
  // Quantizing values that are already on the grid must give them back
  // (up to the f16 rounding of recomputed scales, hence a tolerance).
  for (const FormatTraits* f : formats()) {
    const std::string name = f->name;
      CAPTURE(name);
    const int64_t n = 3 * scale_group(*f);
    const auto x = scaled_gaussian(n, scale_group(*f), 7u);
    const auto y = dequantize(*f, quantize(*f, x.data(), n).data(), n);
    const auto z = dequantize(*f, quantize(*f, y.data(), n).data(), n);
    CHECK(group_relative_rms(y, z, scale_group(*f)) <=
          0.5 * f->round_trip_budget + 1e-6);
  }
}

TEST_CASE("quant round trip: rows quantize block by block") {
  // A row's bytes are the concatenation of its blocks' bytes: no state may
  // leak from one block (or super-block) into the next.
  for (const FormatTraits* f : formats()) {
    const std::string name = f->name;
      CAPTURE(name);
    const int64_t bs = f->block_size;
    const int64_t n = bs * 5;
    const auto x = scaled_gaussian(n, scale_group(*f), 11u);
    const auto whole = quantize(*f, x.data(), n);
    for (int64_t b = 0; b < 5; ++b) {
      const auto one = quantize(*f, x.data() + b * bs, bs);
      CHECK(std::memcmp(one.data(), whole.data() + b * f->block_bytes,
                        f->block_bytes) == 0);
    }
  }
}

TEST_CASE("quant round trip: zeros and constants") {
  for (const FormatTraits* f : formats()) {
    const std::string name = f->name;
      CAPTURE(name);
    const int64_t n = 2 * scale_group(*f);
    const std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
    const auto y = dequantize(*f, quantize(*f, zeros.data(), n).data(), n);
    for (float v : y) CHECK(v == 0.0f);
    // A constant block: relative error within budget (Q4_0/Q5_0 put the
    // value on level -8/-16 exactly; K-quants fit min or scale).
    const std::vector<float> c(static_cast<size_t>(n), -0.75f);
    const auto yc = dequantize(*f, quantize(*f, c.data(), n).data(), n);
    CHECK(group_relative_rms(c, yc, n) <= f->round_trip_budget);
  }
}

TEST_CASE("quant vec_dot: matches f32 math, odd block counts") {
  for (const FormatTraits* f : formats()) {
    const FormatTraits& act = format_traits(f->vec_dot_type);
    for (int64_t blocks : {1, 3, 5, 17}) {
      const int64_t n = blocks * scale_group(*f);
      const std::string name = f->name;
      CAPTURE(name);
      CAPTURE(n);
      const auto w = scaled_gaussian(n, scale_group(*f), 5u + static_cast<uint32_t>(n));
      const auto a = scaled_gaussian(n, n, 77u + static_cast<uint32_t>(n));
      const auto qw = quantize(*f, w.data(), n);
      const auto qa = quantize(act, a.data(), n);
      const auto dw = dequantize(*f, qw.data(), n);
      const auto da = dequantize(act, qa.data(), n);
      const float got = f->vec_dot(n, qw.data(), qa.data());
      const double scale = norm(dw) * norm(a);
      // (1) The kernel computes the dot of the two dequantized rows; only
      // float rounding differs, plus for Q8_1 the f16 rounding of s.
      const double exact_tol =
          act.type == QType::Q8_1 ? 1e-3 : 2e-6;
      CHECK(std::fabs(got - dot(dw, da)) <= exact_tol * scale);
      // (2) Against the f32 activation: the error is the activation's
      // quantization error, bounded by |w| |a - da| <= |w| |a| budget.
      CHECK(std::fabs(got - dot(dw, a)) <= act.round_trip_budget * scale + 1e-6 * scale);
    }
  }
}

}  // namespace
}  // namespace moerun
