// moerun bench: runs both phases and reports them (text and JSON); a
// benchmark that cannot fit its context is a clean error. No timing is
// asserted: speed never gates the tests.
#include <doctest/doctest.h>

#include <string>

#include "tests/cli/cli_runner.h"

using namespace moerun;

namespace {
const std::string kStories = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/stories260K.gguf";
}

TEST_CASE("cli bench: text and JSON reports of pp and tg") {
  test::CliResult r = test::run_moerun("bench -m " + kStories + " -p 16 -n 8 -r 2 -t 1");
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("pp16") != std::string::npos);
  CHECK(r.out.find("tg8") != std::string::npos);
  CHECK(r.out.find("isa ") != std::string::npos);

  r = test::run_moerun("bench -m " + kStories + " -p 16 -n 0 -r 1 -t 1 --json");
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.rfind("{", 0) == 0);
  CHECK(r.out.find("\"pp\": {\"n\": 16") != std::string::npos);
  CHECK(r.out.find("\"threads\": 1") != std::string::npos);
}

TEST_CASE("cli bench: --flash-attn is reported in text and JSON") {
  test::CliResult r = test::run_moerun("bench -m " + kStories + " -p 16 -n 2 -r 1 -t 1 --bw 10 --flash-attn --json");
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("\"flash_attn\": true") != std::string::npos);
  r = test::run_moerun("bench -m " + kStories + " -p 16 -n 2 -r 1 -t 1 --bw 10 --json");
  CHECK(r.out.find("\"flash_attn\": false") != std::string::npos);
  r = test::run_moerun("bench -m " + kStories + " -p 16 -n 2 -r 1 -t 1 --bw 10 --flash-attn");
  CHECK(r.out.find(", flash attention\n") != std::string::npos);
}

TEST_CASE("cli bench: a prompt larger than the context is refused") {
  const test::CliResult r = test::run_moerun("bench -m " + kStories + " -p 64 -n 8 -c 32");
  CHECK(r.status == 2);
  CHECK(test::count_lines(r.err) == 1);
}

TEST_CASE("cli bench: several sequences decoded together, a given bandwidth, stage times") {
  test::CliResult r = test::run_moerun("bench -m " + kStories + " -p 8 -n 4 -r 1 -t 1 --batch 3 --bw 10 --json");
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("\"batch\": 3") != std::string::npos);
  CHECK(r.out.find("\"bw\": 10.000, \"bw_measured\": false") != std::string::npos);
  CHECK(r.out.find("\"tg\": {\"n\": 4") != std::string::npos);

  r = test::run_moerun("bench -m " + kStories + " -p 8 -n 4 -r 1 -t 1 --bw 10 --profile");
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("% of the bandwidth ceiling") != std::string::npos);
  CHECK(r.out.find("tg stages") != std::string::npos);
}

TEST_CASE("cli bench: --ctx fills the cache before tg and reports the attention time") {
  test::CliResult r = test::run_moerun("bench -m " + kStories + " -p 0 -n 4 -r 1 -t 1 --bw 10 --ctx 300 --json");
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("\"ctx\": 300, \"attention_ms\": ") != std::string::npos);
  r = test::run_moerun("bench -m " + kStories + " -p 8 -n 4 -r 2 -t 1 --bw 10 --ctx 300 --sparse-attn=64");
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("at ctx 300: attention ") != std::string::npos);
  // The context must hold the fill and the generated tokens.
  r = test::run_moerun("bench -m " + kStories + " -p 0 -n 8 --ctx 300 -c 256");
  CHECK(r.status == 2);
  CHECK(test::count_lines(r.err) == 1);
}
