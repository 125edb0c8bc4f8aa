// moerun perplexity end to end: the result line on stdout and nothing else
// there; a text too short for two windows, or a missing file, is a one-line
// bad-input error. (The figure itself is checked against llama.cpp in
// tests/oracle/test_perplexity.sh.)
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <string>

#include "tests/cli/cli_runner.h"

using namespace moerun;

namespace {
const std::string kTestdata = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/";
}

TEST_CASE("cli perplexity: one result line on stdout") {
  const test::CliResult r = test::run_moerun("perplexity -m " + kTestdata + "models/stories260K.gguf -f " + kTestdata +
                                             "text/tinyshakespeare.txt -c 64 --chunks 3 -t 1");
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(test::count_lines(r.out) == 1);
  CHECK_MESSAGE(r.out.rfind("perplexity: ", 0) == 0, r.out);
  CHECK(r.out.find(" \u00b1 ") != std::string::npos);
  const double ppl = std::stod(r.out.substr(12));
  CHECK(ppl > 1.0);
  CHECK(ppl < 512.0);  // better than chance over the 512-token vocabulary
  CHECK(r.err.find("3 windows of 64") != std::string::npos);
}

TEST_CASE("cli perplexity: --flash-attn gives the same perplexity to float rounding") {
  const std::string cmd = "perplexity -m " + kTestdata + "models/stories260K.gguf -f " + kTestdata +
                          "text/tinyshakespeare.txt -c 64 --chunks 3 -t 1";
  const test::CliResult exact = test::run_moerun(cmd);
  const test::CliResult flash = test::run_moerun(cmd + " --flash-attn");
  REQUIRE_MESSAGE(exact.status == 0, exact.err);
  REQUIRE_MESSAGE(flash.status == 0, flash.err);
  const double a = std::stod(exact.out.substr(12)), b = std::stod(flash.out.substr(12));
  CHECK(std::fabs(a - b) <= 1e-4 * a);
}

TEST_CASE("cli perplexity: too short a text, a missing file: one-line errors, exit 2") {
  const std::string dir = test::cli_temp_dir();
  std::ofstream(dir + "/short.txt") << "Once upon a time.";
  test::CliResult r = test::run_moerun("perplexity -m " + kTestdata + "models/stories260K.gguf -f " + dir + "/short.txt");
  CHECK(r.status == 2);
  CHECK_MESSAGE(test::count_lines(r.err) == 1, r.err);
  CHECK(r.err.find("needs at least 1024") != std::string::npos);
  CHECK(r.out.empty());
  r = test::run_moerun("perplexity -m " + kTestdata + "models/stories260K.gguf -f " + dir + "/missing.txt");
  CHECK(r.status == 2);
  CHECK_MESSAGE(test::count_lines(r.err) == 1, r.err);
  CHECK(r.err.find("missing.txt: cannot open") != std::string::npos);
}
