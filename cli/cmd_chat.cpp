// moerun chat: a conversation in the terminal. Each turn re-renders the
// whole conversation with the model's chat template, keeps the KV cache for
// the tokens that did not change, and prefills only the new ones.
// Lines come from libedit when stdin is a terminal, else one per line from
// stdin (so scripts and tests can drive it). "/reset" starts over, "/exit"
// (or end of input) ends.
#include <editline/readline.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/generate.h"
#include "cli/sampling_options.h"
#include "core/chat/chat_template.h"
#include "core/error.h"

namespace moerun::cli {

namespace {

struct ChatOptions {
  ModelOptions model;
  SamplerParams sampling;
  std::string system;
  std::string chat_template;
  int64_t n_predict = 512;  // per reply
};

bool read_line(bool tty, std::string& line) {
  if (tty) {
    char* s = readline("> ");
    if (s == nullptr) return false;
    line = s;
    if (!line.empty()) add_history(s);
    std::free(s);
    return true;
  }
  return static_cast<bool>(std::getline(std::cin, line));
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

void run_chat(const ChatOptions& o) {
  Engine engine = make_engine(o.model);
  const Tokenizer& tok = engine.tokenizer();
  std::string warning;
  const ChatTemplate tmpl =
      select_chat_template(o.chat_template, engine.gguf().get_string("tokenizer.chat_template", ""), &warning);
  if (!warning.empty()) std::fprintf(stderr, "moerun: %s\n", warning.c_str());
  std::fprintf(stderr, "moerun: chat template '%s' (%s); /reset to start over, /exit to quit\n", tmpl.name().c_str(),
               chat_family_name(tmpl.family()));

  ChatRenderOptions ro;
  if (tok.bos_id() >= 0) ro.bos_token = tok.token_to_piece(tok.bos_id(), true);
  if (tok.eos_id() >= 0) ro.eos_token = tok.token_to_piece(tok.eos_id(), true);

  std::vector<ChatMessage> messages;
  if (!o.system.empty()) messages.push_back({"system", o.system});
  std::vector<int32_t> cached;  // tokens whose K/V sit in the cache, in order
  Sampler sampler(o.sampling);
  const bool tty = isatty(STDIN_FILENO) != 0;
  std::string line;
  while (read_line(tty, line)) {
    if (line == "/exit") break;
    if (line == "/reset") {
      messages.resize(o.system.empty() ? 0 : 1);
      cached.clear();
      engine.kv().clear(0);
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({"user", line});
    std::string render_warning;
    const std::string text = render_chat(tmpl, messages, ro, &render_warning);
    if (!render_warning.empty()) std::fprintf(stderr, "moerun: %s\n", render_warning.c_str());
    // Templates that write the BOS text themselves must not get a second one.
    const bool has_bos = !ro.bos_token.empty() && text.compare(0, ro.bos_token.size(), ro.bos_token) == 0;
    std::vector<int32_t> prompt = tok.encode(text, tok.add_bos() && !has_bos, true);
    if (static_cast<int64_t>(prompt.size()) >= engine.n_ctx()) {
      fail("the conversation has " + std::to_string(prompt.size()) + " tokens, more than the context of " +
           std::to_string(engine.n_ctx()) + " (raise -c or /reset)");
    }
    // Reuse the cached prefix; recompute from the first token that changed
    // (at least the last one, whose logits we need).
    const size_t keep = std::min(common_prefix(cached, prompt), prompt.size() - 1);
    engine.kv().set_len(0, static_cast<int64_t>(keep));
    std::vector<int32_t> fresh(prompt.begin() + static_cast<int64_t>(keep), prompt.end());
    std::vector<float> logits = prefill(engine, fresh, static_cast<int64_t>(keep), 0);
    cached = prompt;

    StreamDecoder stream(tok);
    std::string reply;
    std::vector<int32_t> history = prompt;
    int64_t pos = static_cast<int64_t>(prompt.size());
    for (int64_t n = 0; n < o.n_predict && pos < engine.n_ctx(); ++n) {
      const int32_t t = sampler.sample(logits.data(), engine.n_vocab(), history);
      if (tok.is_eog(t)) break;
      history.push_back(t);
      const std::string piece = stream.push(t);
      reply += piece;
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      logits = decode_step(engine, t, pos, 0);
      cached.push_back(t);
      ++pos;
    }
    const std::string rest = stream.flush();
    reply += rest;
    std::fwrite(rest.data(), 1, rest.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
    messages.push_back({"assistant", reply});
  }
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto o = std::make_shared<ChatOptions>();
  CLI::App* cmd = app.add_subcommand("chat", "Chat with a model in the terminal (one user message per line)");
  add_model_options(cmd, o->model);
  cmd->add_option("--system", o->system, "system prompt");
  cmd->add_option("--chat-template", o->chat_template,
                  "built-in template name or a Jinja file (default: the model's own template)");
  cmd->add_option("-n,--n-predict", o->n_predict, "most tokens per reply")->capture_default_str();
  add_sampling_options(cmd, o->sampling);
  cmd->callback([o] { run_chat(*o); });
}

}  // namespace moerun::cli
