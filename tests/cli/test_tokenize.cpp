// moerun tokenize: ids on one line, --bos and --special as documented, and
// --decode gives the text back.
#include <doctest/doctest.h>

#include <string>

#include "tests/cli/cli_runner.h"

using namespace moerun;

namespace {
const std::string kStories = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/stories260K.gguf";
}

TEST_CASE("cli tokenize: ids, BOS on request, decode round trip") {
  // Expected ids from stories260K.greedy.json ("Once upon a time": BOS + 403 407 261 378).
  test::CliResult r = test::run_moerun("tokenize -m " + kStories + " -p \"Once upon a time\"");
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(r.out == "403 407 261 378\n");
  r = test::run_moerun("tokenize -m " + kStories + " -p \"Once upon a time\" --bos");
  CHECK(r.out == "1 403 407 261 378\n");
  r = test::run_moerun("tokenize -m " + kStories + " --decode \"403 407 261 378\"");
  CHECK(r.out == "Once upon a time\n");
  // Special-token text is plain text unless --special.
  const test::CliResult plain = test::run_moerun("tokenize -m " + kStories + " -p \"<s>\"");
  const test::CliResult special = test::run_moerun("tokenize -m " + kStories + " -p \"<s>\" --special");
  CHECK(special.out == "1\n");
  CHECK(plain.out != special.out);
  r = test::run_moerun("tokenize -m " + kStories + " --decode \"1 99999\"");
  CHECK(r.status == 2);
}
