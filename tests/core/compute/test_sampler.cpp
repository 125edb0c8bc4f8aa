// Sampler: each stage on hand-checked numbers, the chain order, greedy ties,
// and seeded determinism.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/compute/sampler.h"
#include "core/error.h"

using namespace moerun;

namespace {
std::vector<TokenCandidate> cands(const std::vector<float>& logits) {
  std::vector<TokenCandidate> c;
  for (size_t i = 0; i < logits.size(); ++i) c.push_back({static_cast<int32_t>(i), logits[i], 0.0f});
  return c;
}
std::vector<int32_t> ids(const std::vector<TokenCandidate>& c) {
  std::vector<int32_t> v;
  for (const auto& t : c) v.push_back(t.id);
  return v;
}
SamplerParams plain(float temp) {
  SamplerParams p;
  p.temp = temp;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repeat_penalty = 1.0f;
  p.seed = 1234;
  return p;
}
}  // namespace

TEST_CASE("sampler: repetition penalty divides positive and multiplies negative logits") {
  auto c = cands({2.0f, -1.0f, 0.5f, 3.0f});
  sampling::repetition_penalty(c, {0, 1, 1}, 2.0f, 64);
  CHECK(c[0].logit == doctest::Approx(1.0));   // 2 / 2
  CHECK(c[1].logit == doctest::Approx(-2.0));  // -1 * 2, counted once though seen twice
  CHECK(c[2].logit == doctest::Approx(0.5));
  CHECK(c[3].logit == doctest::Approx(3.0));
  auto d = cands({2.0f, -1.0f, 0.5f, 3.0f});
  sampling::repetition_penalty(d, {0, 1, 1}, 2.0f, 1);  // only the last token counts
  CHECK(d[0].logit == doctest::Approx(2.0));
  CHECK(d[1].logit == doctest::Approx(-2.0));
}

TEST_CASE("sampler: top-k keeps the k largest, ties to the lower id") {
  auto c = cands({1, 4, 3, 4, 0});
  sampling::top_k(c, 2);
  CHECK(ids(c) == std::vector<int32_t>{1, 3});
  auto all = cands({1, 4, 3, 4, 0});
  sampling::top_k(all, 0);
  CHECK(ids(all) == std::vector<int32_t>{1, 3, 2, 0, 4});
}

TEST_CASE("sampler: softmax") {
  auto c = cands({0.0f, std::log(3.0f)});
  sampling::softmax(c);
  CHECK(c[0].p == doctest::Approx(0.25));
  CHECK(c[1].p == doctest::Approx(0.75));
}

TEST_CASE("sampler: top-p keeps the smallest set reaching p") {
  const std::vector<float> l = {std::log(0.2f), std::log(0.5f), std::log(0.3f)};
  auto a = cands(l);
  sampling::top_p(a, 0.7f);  // 0.5 < 0.7 <= 0.5 + 0.3
  CHECK(ids(a) == std::vector<int32_t>{1, 2});
  auto b = cands(l);
  sampling::top_p(b, 0.45f);
  CHECK(ids(b) == std::vector<int32_t>{1});
  auto c = cands(l);
  sampling::top_p(c, 0.95f);
  CHECK(ids(c) == std::vector<int32_t>{1, 2, 0});
}

TEST_CASE("sampler: min-p drops tokens below a fraction of the top probability") {
  const std::vector<float> l = {std::log(0.2f), std::log(0.5f), std::log(0.3f)};
  auto a = cands(l);
  sampling::min_p(a, 0.5f);  // threshold 0.25: keeps 0.5 and 0.3
  CHECK(ids(a) == std::vector<int32_t>{1, 2});
  auto b = cands(l);
  sampling::min_p(b, 0.3f);  // threshold 0.15: keeps all
  CHECK(ids(b) == std::vector<int32_t>{1, 2, 0});
}

TEST_CASE("sampler: temperature scales logits") {
  auto c = cands({2.0f, 4.0f});
  sampling::temperature(c, 2.0f);
  CHECK(c[0].logit == doctest::Approx(1.0));
  CHECK(c[1].logit == doctest::Approx(2.0));
}

TEST_CASE("sampler: pick walks the cumulative distribution") {
  auto c = cands({0.0f, std::log(3.0f)});
  sampling::softmax(c);  // 0.25, 0.75
  CHECK(sampling::pick(c, 0.0) == 0);
  CHECK(sampling::pick(c, 0.2) == 0);
  CHECK(sampling::pick(c, 0.26) == 1);
  CHECK(sampling::pick(c, 0.999) == 1);
}

TEST_CASE("sampler: greedy is the first maximum, after the repetition penalty") {
  const std::vector<float> logits = {1, 5, 5, 2};
  Sampler g(plain(0.0f));
  CHECK(g.sample(logits.data(), 4, {}) == 1);
  SamplerParams p = plain(0.0f);
  p.repeat_penalty = 2.0f;
  Sampler gp(p);
  CHECK(gp.sample(logits.data(), 4, {1}) == 2);  // 5 / 2 = 2.5 for id 1
}

TEST_CASE("sampler: seeded sampling is deterministic and follows the distribution") {
  const std::vector<float> logits = {0.0f, std::log(3.0f)};
  Sampler a(plain(1.0f)), b(plain(1.0f));
  std::vector<int32_t> sa, sb;
  for (int i = 0; i < 200; ++i) {
    sa.push_back(a.sample(logits.data(), 2, {}));
    sb.push_back(b.sample(logits.data(), 2, {}));
  }
  CHECK(sa == sb);
  SamplerParams other = plain(1.0f);
  other.seed = 99;
  Sampler c(other);
  std::vector<int32_t> sc;
  for (int i = 0; i < 200; ++i) sc.push_back(c.sample(logits.data(), 2, {}));
  CHECK(sc != sa);  // equal by chance with probability far below 1e-20
  // Frequency of id 1 is 0.75; 20000 draws have sd 0.003, allow 0.02.
  Sampler d(plain(1.0f));
  int ones = 0;
  for (int i = 0; i < 20000; ++i) ones += d.sample(logits.data(), 2, {});
  CHECK(ones / 20000.0 == doctest::Approx(0.75).epsilon(0.027));
  a.reseed(1234);
  std::vector<int32_t> again;
  for (int i = 0; i < 200; ++i) again.push_back(a.sample(logits.data(), 2, {}));
  CHECK(again == sa);
}

TEST_CASE("sampler: top-p and min-p see probabilities before temperature") {
  // Probabilities 0.5/0.3/0.2: top-p 0.7 keeps ids 0 and 1. A temperature of
  // 100 would make them nearly equal (then top-p would keep all three), so id
  // 2 never being drawn shows the filter ran first.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplerParams p = plain(100.0f);
  p.top_p = 0.7f;
  Sampler s(p);
  int seen[3] = {0, 0, 0};
  for (int i = 0; i < 2000; ++i) ++seen[s.sample(logits.data(), 3, {})];
  CHECK(seen[2] == 0);
  CHECK(seen[0] > 800);  // ~50/50 between ids 0 and 1 after the flattening
  CHECK(seen[1] > 800);
  SamplerParams k = plain(1.0f);
  k.top_k = 1;
  Sampler one(k);
  for (int i = 0; i < 50; ++i) CHECK(one.sample(logits.data(), 3, {}) == 0);
}

TEST_CASE("sampler: a NaN or infinite logit is a runtime error, greedy or not") {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> logits = {0.5f, 2.0f, bad, 1.0f};
    for (float temp : {0.0f, 0.8f}) {
      SamplerParams p;
      p.temp = temp;
      Sampler s(p);
      try {
        s.sample(logits.data(), 4, {});
        FAIL("a non-finite logit was sampled from");
      } catch (const Error& e) {
        CHECK(e.exit_status() == 1);
        CHECK(std::string(e.what()).find("token 2") != std::string::npos);
      }
    }
  }
}
