// moerun chat on a pseudo-terminal, driven by keystrokes as a user would:
// Ctrl-C during an answer stops that answer and the program goes on; Ctrl-C
// at the prompt drops the line; a backslash continues a message; Ctrl-D
// quits with status 0; the history is saved; a <think> section is dimmed.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/cli/cli_runner.h"
#include "tests/cli/pty_runner.h"

using namespace moerun;

namespace {

const std::string kModel = std::string(MOERUN_SOURCE_DIR) + "/models/data/tiny-deepseek-moe-q8_0.gguf";

// A ChatML template whose generation prompt opens a <think> section, as
// DeepSeek-R1's does: the whole answer of a model that never closes it is
// "thinking".
std::string thinking_template(const std::string& dir) {
  const std::string path = dir + "/thinking.jinja";
  std::ofstream(path) << "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}";
  return path;
}

}  // namespace

TEST_CASE("chat tty: Ctrl-C stops the answer, not the program; Ctrl-C at the prompt; Ctrl-D quits") {
  const std::string dir = test::cli_temp_dir();
  const std::string history = dir + "/history";
  std::filesystem::remove(history);
  // -n -1 and a 4096-token context: without Ctrl-C the answer would run for
  // thousands of tokens (this model rarely ends one).
  test::PtyProcess p({"chat", "-m", kModel, "-c", "4096", "-n", "-1", "--temp", "0", "-t", "1"},
                     {"MOERUN_HISTORY=" + history});
  REQUIRE(p.started());
  REQUIRE_MESSAGE(p.wait_prompt(0), p.output());
  size_t mark = p.output().size();
  p.send("ROMEO:\r");
  // Some of the answer has streamed out: then interrupt it.
  REQUIRE_MESSAGE(p.wait_for("ROMEO:\r\n", mark), p.output());
  const size_t answer_start = p.output().find("ROMEO:\r\n", mark) + 8;
  while (p.output().size() < answer_start + 40) REQUIRE_MESSAGE(p.wait_for(" ", p.output().size()), p.output());
  p.send("\x03");
  REQUIRE_MESSAGE(p.wait_for("answer stopped (Ctrl-C)", answer_start), p.output());
  mark = p.output().find("answer stopped (Ctrl-C)", answer_start);
  REQUIRE_MESSAGE(p.wait_prompt(mark), p.output());

  // It stopped well before the end of the context.
  mark = p.output().size();
  p.send("/stats\r");
  REQUIRE_MESSAGE(p.wait_for("context: ", mark), p.output());
  REQUIRE(p.wait_for("tokens used", mark));
  const size_t gen = p.output().find("generated ", mark);
  REQUIRE(gen != std::string::npos);
  const long generated = std::strtol(p.output().c_str() + gen + 10, nullptr, 10);
  CHECK(generated > 0);
  CHECK(generated < 4000);

  // Ctrl-C at the prompt drops the line being typed and keeps going.
  REQUIRE(p.wait_prompt(p.output().find("tokens used", mark)));
  mark = p.output().size();
  p.send("half a line");
  REQUIRE(p.wait_for("half a line", mark));
  p.send("\x03");
  REQUIRE_MESSAGE(p.wait_for("Ctrl-D or /exit quits", mark), p.output());

  // A message over two lines (backslash), answered in full.
  REQUIRE(p.wait_prompt(p.output().find("Ctrl-D or /exit quits", mark)));
  mark = p.output().size();
  p.send("/set n-predict 6\r");
  REQUIRE(p.wait_for("n-predict = 6", mark));
  REQUIRE(p.wait_prompt(p.output().find("n-predict = 6", mark)));
  mark = p.output().size();
  p.send("JULIET:\\\r");
  REQUIRE_MESSAGE(p.wait_prompt(mark, "... "), p.output());
  p.send("speak\r");
  REQUIRE(p.wait_for("speak\r\n", mark));
  mark = p.output().find("speak\r\n", mark);
  REQUIRE_MESSAGE(p.wait_prompt(mark), p.output());
  const std::string saved = dir + "/conversation.json";
  mark = p.output().size();
  p.send("/save " + saved + "\r");
  REQUIRE(p.wait_for("saved ", mark));
  REQUIRE(p.wait_prompt(p.output().find("saved ", mark)));

  p.send("\x04");
  CHECK(p.wait_exit() == 0);
  const std::string conv = test::slurp(saved);
  CHECK_MESSAGE(conv.find("\"JULIET:\\nspeak\"") != std::string::npos, conv);
  // The interrupted answer stays in the conversation, cut where it stopped.
  CHECK(conv.find("\"ROMEO:\"") != std::string::npos);
  const std::string hist = test::slurp(history);
  CHECK_MESSAGE(hist.find("ROMEO:") != std::string::npos, hist);
  CHECK(hist.find("speak") != std::string::npos);
}

TEST_CASE("chat tty: Ctrl-C right after typing is never lost, however the keys and the signal interleave") {
  // A Ctrl-C that lands while the line editor is between two reads (echoing
  // the keys just typed) must still drop the line: once it left the prompt
  // waiting for a whole line in cooked mode.
  test::PtyProcess p({"chat", "-m", kModel, "-t", "1"}, {"MOERUN_HISTORY="});
  REQUIRE(p.started());
  REQUIRE(p.wait_prompt(0));
  const std::string hint = "Ctrl-D or /exit quits";
  for (int i = 0; i < 40; ++i) {
    const size_t mark = p.output().size();
    p.send(std::string(static_cast<size_t>(1 + i % 7), 'x'));  // no wait for the echo
    p.send("\x03");
    REQUIRE_MESSAGE(p.wait_for(hint, mark, 20), "round " << i << ": " << p.output().substr(mark));
    REQUIRE(p.wait_prompt(p.output().find(hint, mark)));
  }
  p.send("\x04");
  CHECK(p.wait_exit() == 0);
}

TEST_CASE("chat tty: a <think> section is dimmed on a terminal, and left out with --hide-thinking") {
  const std::string dir = test::cli_temp_dir();
  const std::string tmpl = thinking_template(dir);
  for (bool hide : {false, true}) {
    std::vector<std::string> args = {"chat", "-m", kModel, "--chat-template", tmpl, "-n", "8", "--temp", "0", "-t", "1"};
    if (hide) args.push_back("--hide-thinking");
    test::PtyProcess p(args, {"MOERUN_HISTORY="});
    REQUIRE(p.started());
    REQUIRE(p.wait_prompt(0));
    const size_t mark = p.output().size();
    p.send("ROMEO:\r");
    REQUIRE(p.wait_for("ROMEO:\r\n", mark));
    REQUIRE_MESSAGE(p.wait_for("\r\n> ", p.output().find("ROMEO:\r\n", mark)), p.output());
    // The answer: from the line's echo (the last one: keys typed before
    // libedit took the terminal are echoed twice) to the next prompt.
    const size_t prompt = p.output().find("\r\n> ", p.output().find("ROMEO:\r\n", mark)) + 2;
    const size_t start = p.output().rfind("ROMEO:\r\n", prompt) + 8;
    const std::string answer = p.output().substr(start, prompt - start);
    REQUIRE(p.wait_line_editor());
    if (hide) {
      CHECK_MESSAGE(answer == "\r\n", answer);  // all of it was thinking
    } else {
      CHECK_MESSAGE(answer.rfind("\033[2m", 0) == 0, answer);  // faint from the first byte
      CHECK(answer.find("\033[22m") != std::string::npos);    // and back to normal at the end
      CHECK(answer.size() > 12);
    }
    p.send("\x04");
    CHECK(p.wait_exit() == 0);
  }
}
