// moerun chat driven through stdin: turns are answered on stdout (and only
// answers go there), the template choice is reported, a bad --chat-template
// is a clean error, multi-line messages, the slash commands, the context
// policy and --hide-thinking. (On a terminal: test_chat_tty.cpp.)
#include <doctest/doctest.h>

#include <fstream>
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

TEST_CASE("cli chat: multi-line messages, by backslash and by a \"\"\" block") {
  const std::string dir = test::cli_temp_dir();
  const std::string saved = dir + "/multi.json";
  const test::CliResult r = test::run_moerun("chat -m " + kTinyMoe + " -n 4 --temp 0 -t 1",
                                             "one\\\ntwo\n\"\"\"\nthree\n\nfour\n\"\"\"\n/save " + saved + "\n");
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const std::string conv = test::slurp(saved);
  CHECK_MESSAGE(conv.find("\"content\": \"one\\ntwo\"") != std::string::npos, conv);
  CHECK(conv.find("\"content\": \"three\\n\\nfour\"") != std::string::npos);
  CHECK(conv.find("\"role\": \"assistant\"") != std::string::npos);
}

TEST_CASE("cli chat: commands answer on stderr, stdout holds the answers only") {
  const std::string dir = test::cli_temp_dir();
  const std::string saved = dir + "/conv.json";
  const std::string args = "chat -m " + kTinyMoe + " -n 6 --temp 0 -t 1";
  const test::CliResult a = test::run_moerun(args, "ROMEO:\n/stats\n/help\n/set temp 0\n/set nothing 1\n/bogus\n/save " +
                                                       saved + "\n");
  REQUIRE_MESSAGE(a.status == 0, a.err);
  CHECK(test::count_lines(a.out) == 1);
  CHECK(a.err.find("context: ") != std::string::npos);
  CHECK(a.err.find("/reset") != std::string::npos);        // the help
  CHECK(a.err.find("temp = 0") != std::string::npos);
  CHECK(a.err.find("usage: /set") != std::string::npos);
  CHECK(a.err.find("unknown command '/bogus'") != std::string::npos);
  // /load continues the saved conversation: the next answer is the one the
  // first session would have given.
  const test::CliResult b = test::run_moerun(args, "ROMEO:\nJULIET:\n");
  const test::CliResult c = test::run_moerun(args, "/load " + saved + "\nJULIET:\n");
  REQUIRE_MESSAGE(c.status == 0, c.err);
  CHECK(c.err.find("loaded 2 message(s)") != std::string::npos);
  CHECK(c.out == b.out.substr(b.out.find('\n') + 1));
  // "//" sends a message that starts with "/".
  const test::CliResult d = test::run_moerun(args, "//bogus\n");
  CHECK(test::count_lines(d.out) == 1);
  CHECK(d.err.find("unknown command") == std::string::npos);
  // A bad /load is reported and the chat goes on.
  const test::CliResult e = test::run_moerun(args, "/load " + dir + "/missing.json\nROMEO:\n");
  CHECK(e.status == 0);
  CHECK(e.err.find("missing.json: cannot open") != std::string::npos);
  CHECK(test::count_lines(e.out) == 1);
}

TEST_CASE("cli chat: /system sets the system prompt, kept by /reset") {
  const std::string dir = test::cli_temp_dir();
  const std::string saved = dir + "/sys.json";
  const test::CliResult r = test::run_moerun("chat -m " + kTinyMoe + " -n 3 --temp 0 -t 1",
                                             "/system Speak in verse.\nROMEO:\n/reset\n/save " + saved + "\n");
  REQUIRE_MESSAGE(r.status == 0, r.err);
  const std::string conv = test::slurp(saved);
  CHECK_MESSAGE(conv.find("\"role\": \"system\"") != std::string::npos, conv);
  CHECK(conv.find("Speak in verse.") != std::string::npos);
  CHECK(conv.find("ROMEO:") == std::string::npos);
}

TEST_CASE("cli chat: a full context drops the oldest turns (system prompt kept) and says so") {
  const std::string dir = test::cli_temp_dir();
  const std::string saved = dir + "/full.json";
  const test::CliResult r = test::run_moerun("chat -m " + kTinyMoe + " -n 30 --temp 0 -t 1 -c 128 --system Verse.",
                                             "ROMEO:\nJULIET:\nWhat say you now?\n/save " + saved + "\n");
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK(test::count_lines(r.out) >= 3);
  CHECK_MESSAGE(r.err.find("context full: dropped the oldest 1 turn(s)") != std::string::npos, r.err);
  const std::string conv = test::slurp(saved);
  CHECK(conv.find("Verse.") != std::string::npos);
  CHECK(conv.find("\"ROMEO:\"") == std::string::npos);  // the first turn went
  CHECK(conv.find("What say you now?") != std::string::npos);
  // A message longer than the whole context is refused; the chat goes on.
  const test::CliResult big = test::run_moerun("chat -m " + kTinyMoe + " -n 4 --temp 0 -t 1 -c 64",
                                               std::string(400, 'x') + "\nROMEO:\n");
  CHECK(big.status == 0);
  CHECK_MESSAGE(big.err.find("the message does not fit") != std::string::npos, big.err);
  CHECK(test::count_lines(big.out) == 1);
  // An answer that reaches the end of the context stops there.
  const test::CliResult end = test::run_moerun("chat -m " + kTinyMoe + " -n -1 --temp 0 -t 1 -c 64", "ROMEO:\n");
  CHECK(end.status == 0);
  CHECK_MESSAGE(end.err.find("reached the end of the context") != std::string::npos, end.err);
}

TEST_CASE("cli chat: through a pipe <think> text is left as it is, or left out with --hide-thinking") {
  const std::string dir = test::cli_temp_dir();
  const std::string tmpl = dir + "/think.jinja";
  std::ofstream(tmpl) << "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}";
  const std::string args = "chat -m " + kTinyMoe + " --chat-template " + tmpl + " -n 8 --temp 0 -t 1";
  const test::CliResult shown = test::run_moerun(args, "ROMEO:\n");
  REQUIRE_MESSAGE(shown.status == 0, shown.err);
  CHECK(shown.out.size() > 2);
  CHECK(shown.out.find('\033') == std::string::npos);  // no terminal styling in a pipe
  const test::CliResult hidden = test::run_moerun(args + " --hide-thinking", "ROMEO:\n");
  REQUIRE(hidden.status == 0);
  CHECK(hidden.out == "\n");  // the model never closed the section: all of it was thinking
}
