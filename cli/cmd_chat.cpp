// moerun chat: a conversation in the terminal. The answer streams to stdout;
// everything else (the template in use, notices, command output) to stderr.
// On a terminal: line editing and history (cli/line_input.h), <think>
// sections dimmed, Ctrl-C stops the answer, Ctrl-D quits. From a pipe: each
// message (one line, or a multi-line block) gets its answer on stdout,
// followed by a newline, so a script can drive it.
// The conversation and the context policy: cli/chat_session.h; the slash
// commands: cli/chat_commands.h.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/chat_commands.h"
#include "cli/chat_prompt.h"
#include "cli/chat_session.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/interrupt.h"
#include "cli/line_input.h"
#include "cli/sampling_options.h"
#include "cli/think_filter.h"
#include "core/error.h"

namespace moerun::cli {

namespace {

struct ChatOptions {
  ModelOptions model;
  SamplerParams sampling;
  std::string system;
  std::string chat_template;
  int64_t n_predict = 512;  // per answer
  bool hide_thinking = false;
};

void write_out(const std::string& s) {
  if (s.empty()) return;
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

void run_chat(const ChatOptions& o) {
  Engine engine = make_engine(o.model);
  const ChatPrompt prompt(engine, o.chat_template);
  const bool tty_in = isatty(STDIN_FILENO) != 0;
  const bool tty_out = isatty(STDOUT_FILENO) != 0;
  std::fprintf(stderr, "moerun: chat template '%s' (%s), context %lld tokens; /help for commands, %s to quit\n",
               prompt.chat_template().name().c_str(), chat_family_name(prompt.chat_template().family()),
               static_cast<long long>(engine.n_ctx()), tty_in ? "Ctrl-D" : "/exit or the end of input");

  ChatSession session(engine, prompt, o.system);
  ChatState state(session);
  state.sampling = o.sampling;
  state.sampler = std::make_unique<Sampler>(o.sampling);
  state.n_predict = o.n_predict;
  ThinkFilter think(o.hide_thinking ? ThinkFilter::Mode::kHide
                                    : tty_out ? ThinkFilter::Mode::kDim : ThinkFilter::Mode::kShow);
  InterruptScope ctrl_c;
  LineInput input(tty_in);
  std::string message;
  for (;;) {
    const LineInput::Result r = input.read(message);
    if (r == LineInput::Result::kEnd) break;
    if (r == LineInput::Result::kInterrupted) {
      std::fprintf(stderr, "(Ctrl-C stops an answer; Ctrl-D or /exit quits)\n");
      continue;
    }
    if (message.empty()) continue;
    const CommandResult c = run_chat_command(message, state);
    if (c == CommandResult::kExit) break;
    if (c == CommandResult::kHandled) continue;
    if (message.rfind("//", 0) == 0) message.erase(0, 1);
    clear_interrupt();
    try {
      const TurnStats t = session.answer(message, *state.sampler, state.n_predict, think, write_out);
      record_turn(state, t);
      write_out("\n");
      if (t.interrupted) std::fprintf(stderr, "moerun: answer stopped (Ctrl-C)\n");
      if (t.context_full) {
        std::fprintf(stderr, "moerun: the answer reached the end of the context (%lld tokens); older turns will "
                     "be dropped to make room\n", static_cast<long long>(engine.n_ctx()));
      }
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kBadInput) throw;
      write_out(think.flush());
      std::fprintf(stderr, "moerun: %s\n", e.what());  // e.g. the template rejects the turn order
    }
  }
  if (tty_in) std::fputc('\n', stderr);
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto o = std::make_shared<ChatOptions>();
  CLI::App* cmd = app.add_subcommand("chat", "Chat with a model in the terminal");
  cmd->footer(std::string(chat_commands_help()) +
              "\ncontext full: the oldest turns are dropped (the system prompt is kept, the cache keeps the prefix "
              "that did not change); a notice goes to stderr.");
  add_model_options(cmd, o->model);
  cmd->add_option("--system", o->system, "system prompt");
  cmd->add_option("--chat-template", o->chat_template,
                  "built-in template name or a Jinja file (default: the model's own template)");
  cmd->add_option("-n,--n-predict", o->n_predict, "most tokens per answer (-1: until the end of text or context)")
      ->capture_default_str();
  cmd->add_flag("--hide-thinking", o->hide_thinking, "leave out <think> sections of reasoning models");
  add_sampling_options(cmd, o->sampling);
  cmd->callback([o] { run_chat(*o); });
}

}  // namespace moerun::cli
