// Memory over many generations in one engine: after warm-up, prompt after
// prompt must not grow the process (a KV page not returned by clear(), a
// buffer sized per call and kept, a history that is never cut would all show
// here; LeakSanitizer cannot see memory that is still referenced). The
// sanitizer build skips it: ASan's quarantine holds freed blocks on purpose.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/compute/engine.h"
#include "tests/sanitizer.h"

using namespace moerun;

#ifndef MOERUN_ASAN
namespace {

// Anonymous resident memory (what a leak grows; the mapped weights are file pages).
long long rss_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("RssAnon:", 0) == 0) return std::atoll(line.c_str() + 8) * 1024;
  }
  return 0;
}

// Prompt, then `n_new` greedy tokens, in sequence 0 from position 0.
void generate_once(Engine& e, const std::vector<int32_t>& prompt, int n_new) {
  Batch b;
  for (size_t i = 0; i < prompt.size(); ++i) b.add(prompt[i], static_cast<int32_t>(i), 0, i + 1 == prompt.size());
  std::vector<float> logits = e.decode(b);
  int32_t pos = static_cast<int32_t>(prompt.size());
  for (int k = 0; k < n_new; ++k) {
    const int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    b.clear();
    b.add(next, pos++, 0, true);
    logits = e.decode(b);
  }
}

}  // namespace
#endif

TEST_CASE("engine memory: RSS stays flat over many generations after warm-up") {
#ifdef MOERUN_ASAN
  MESSAGE("skipped under AddressSanitizer (its quarantine grows RSS by design)");
#else
  EngineOptions o;
  o.model_path = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/stories260K.gguf";
  o.n_ctx = 256;
  Engine e(o);
  const char* texts[] = {"Once upon a time", "The little dog ran to the park and", "Lily", "One day, a big bird"};
  long long warm = 0;
  for (int i = 0; i < 160; ++i) {
    e.kv().clear(0);
    // Lengths vary so that every page count and batch size recurs.
    generate_once(e, e.tokenizer().encode(texts[i % 4], true, false), 8 + (i * 7) % 90);
    if (i == 39) warm = rss_bytes();
  }
  const long long growth = rss_bytes() - warm;
  MESSAGE("RSS growth over 120 generations after warm-up: " << growth << " bytes");
  CHECK(growth < 256 * 1024);
#endif
}
