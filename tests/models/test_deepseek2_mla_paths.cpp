// MLA: the absorbed attention the engine runs agrees with the naive
// decompressed reference on the trained tiny DeepSeek-style MoE.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/compute/engine.h"

using namespace moerun;

namespace {

const std::string kTinyMoe = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/tiny-deepseek-moe.gguf";

std::vector<float> logits_of(bool naive, const std::vector<int32_t>& ids) {
  EngineOptions o;
  o.model_path = kTinyMoe;
  Engine e(o);
  REQUIRE(e.model().set_option("naive_mla", naive));
  Batch b;
  // Two passes (prefill, then single-token steps) so both shapes are covered.
  const size_t half = ids.size() / 2;
  std::vector<float> all;
  for (size_t i = 0; i < half; ++i) b.add(ids[i], static_cast<int32_t>(i), 0, true);
  all = e.decode(b);
  for (size_t i = half; i < ids.size(); ++i) {
    b.clear();
    b.add(ids[i], static_cast<int32_t>(i), 0, true);
    const std::vector<float>& l = e.decode(b);
    all.insert(all.end(), l.begin(), l.end());
  }
  return all;
}

}  // namespace

TEST_CASE("deepseek2: absorbed MLA equals the naive decompressed path") {
  // "\nROMEO:\n" and a few more Shakespeare-ish ids of the stories260K vocab.
  const std::vector<int32_t> ids = {13, 461, 441, 446, 459, 441, 467, 13, 300, 301, 270, 280, 261, 13, 330, 290};
  const std::vector<float> a = logits_of(false, ids), n = logits_of(true, ids);
  REQUIRE(a.size() == n.size());
  float max_abs = 0, max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(n[i]));
    max_diff = std::max(max_diff, std::fabs(a[i] - n[i]));
  }
  CHECK(max_abs > 1.0f);
  CHECK_MESSAGE(max_diff <= 1e-4f * max_abs, "max |diff| " << max_diff << " max |logit| " << max_abs);
  const int64_t V = static_cast<int64_t>(a.size() / ids.size());
  for (size_t t = 0; t < ids.size(); ++t) {
    const auto ra = a.begin() + static_cast<int64_t>(t) * V, rn = n.begin() + static_cast<int64_t>(t) * V;
    CHECK(std::max_element(ra, ra + V) - ra == std::max_element(rn, rn + V) - rn);
  }
}
