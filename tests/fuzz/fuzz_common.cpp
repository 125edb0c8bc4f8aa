// Helpers shared by the fuzz targets, the fuzzers and the seed maker.
#include <cstdio>
#include <cstdlib>

#include "tests/fuzz/fuzz_targets.h"

namespace moerun::fuzz {

std::string testdata_dir() {
  if (const char* env = std::getenv("MOERUN_TESTDATA"); env != nullptr && *env != '\0') return env;
  return std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata";
}

void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

void expect_one_line(const Error& e) {
  const std::string what = e.what();
  if (what.empty()) finding("an Error with an empty message");
  if (what.find('\n') != std::string::npos) finding("an Error message of more than one line: " + what);
}

}  // namespace moerun::fuzz
