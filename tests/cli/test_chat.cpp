// moerun chat driven through stdin: turns are answered, the template choice
// is reported, a bad --chat-template is a clean error.
#include <doctest/doctest.h>

#include <string>

#include "tests/cli/cli_runner.h"

using namespace moerun;

namespace {
const std::string kTinyMoe = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/tiny-deepseek-moe.gguf";
}

TEST_CASE("cli chat: two turns through stdin, greedy, deterministic") {
  const std::string args = "chat -m " + kTinyMoe + " -n 12 --temp 0 -t 1";
  const test::CliResult a = test::run_moerun(args, "ROMEO:\nWhat say you?\n");
  CHECK_MESSAGE(a.status == 0, a.err);
  // One reply line per turn (the tiny model may itself print newlines, so at least two).
  CHECK(test::count_lines(a.out) >= 2);
  CHECK(a.err.find("built-in chatml template") != std::string::npos);  // no template in this GGUF
  const test::CliResult b = test::run_moerun(args, "ROMEO:\nWhat say you?\n");
  CHECK(a.out == b.out);
}

TEST_CASE("cli chat: /reset gives the same first reply again") {
  const test::CliResult r =
      test::run_moerun("chat -m " + kTinyMoe + " -n 8 --temp 0 -t 1", "ROMEO:\n/reset\nROMEO:\n/exit\nnot read\n");
  CHECK_MESSAGE(r.status == 0, r.err);
  const size_t half = r.out.size() / 2;
  CHECK(r.out.substr(0, half) == r.out.substr(half));
}

TEST_CASE("cli chat: an unknown --chat-template is a clean error") {
  const test::CliResult r = test::run_moerun("chat -m " + kTinyMoe + " --chat-template no-such-template", "hi\n");
  CHECK(r.status == 2);
  CHECK(test::count_lines(r.err) == 1);
}

TEST_CASE("cli: without -m, run and info use the shipped DeepSeek-style MoE") {
  test::CliResult r = test::run_moerun("info");
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.find("tiny-deepseek-moe-q8_0.gguf") != std::string::npos);
  CHECK(r.out.find("model: deepseek2") != std::string::npos);
  CHECK(r.out.find("experts: 16 routed (top-4), 1 shared") != std::string::npos);
  r = test::run_moerun("run -p \"ROMEO:\" -n 8 --temp 0 -t 1");
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(r.out.rfind("ROMEO:", 0) == 0);
  CHECK(r.out.size() > std::string("ROMEO:\n").size());
}
