// Perplexity arithmetic (cli/perplexity.h) on hand-computed cases: the
// windows, the second-half scoring range, exp(mean NLL) and llama-perplexity's
// ± (standard error of the mean NLL times the perplexity).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "cli/perplexity.h"
#include "core/error.h"

using namespace moerun::cli;

TEST_CASE("perplexity: windows, BOS in front, too short a text refused") {
  std::vector<int32_t> tokens(50);
  for (int i = 0; i < 50; ++i) tokens[i] = 100 + i;
  const PerplexityPlan p = plan_perplexity(50, 16, -1);
  CHECK(p.n_chunk == 3);
  CHECK(p.first == 8);
  const std::vector<int32_t> w = p.window(tokens, 1, 1);
  REQUIRE(w.size() == 16);
  CHECK(w[0] == 1);     // BOS replaces the window's first token
  CHECK(w[1] == 117);
  CHECK(w[15] == 131);
  CHECK(p.window(tokens, 2, -1)[0] == 132);  // no BOS: the token stays
  CHECK(plan_perplexity(50, 16, 2).n_chunk == 2);
  CHECK_THROWS_AS(plan_perplexity(31, 16, -1), moerun::Error);
}

TEST_CASE("perplexity: exp of the mean NLL and its standard error, by hand") {
  NllSum s;
  // Uniform over 4 tokens: NLL = ln 4 whatever the target.
  const float uniform[4] = {0.5f, 0.5f, 0.5f, 0.5f};
  s.add(uniform, 4, 2);
  CHECK(s.perplexity() == doctest::Approx(4.0).epsilon(1e-6));
  CHECK(s.uncertainty() == 0.0);  // one token: no spread to estimate
  // logits (0, ln 3): p = (1/4, 3/4). Target 1: NLL = ln(4/3).
  const float skewed[2] = {0.0f, std::log(3.0f)};
  s.add(skewed, 2, 1);
  const double a = std::log(4.0), b = std::log(4.0 / 3.0);
  const double mean = (a + b) / 2;
  CHECK(s.perplexity() == doctest::Approx(std::exp(mean)).epsilon(1e-6));
  const double var = (a * a + b * b) / 2 - mean * mean;
  CHECK(s.uncertainty() == doctest::Approx(std::sqrt(var / 1) * std::exp(mean)).epsilon(1e-6));
  CHECK(s.count() == 2);
}
