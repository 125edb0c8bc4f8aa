#include "cli/chat_prompt.h"

#include <cstdio>

namespace moerun::cli {

namespace {

ChatTemplate choose(const Engine& engine, const std::string& override_spec) {
  std::string warning;
  ChatTemplate t =
      select_chat_template(override_spec, engine.gguf().get_string("tokenizer.chat_template", ""), &warning);
  if (!warning.empty()) std::fprintf(stderr, "moerun: %s\n", warning.c_str());
  return t;
}

}  // namespace

ChatPrompt::ChatPrompt(const Engine& engine, const std::string& override_spec)
    : engine_(engine), tmpl_(choose(engine, override_spec)) {
  const Tokenizer& tok = engine.tokenizer();
  if (tok.bos_id() >= 0) options_.bos_token = tok.token_to_piece(tok.bos_id(), true);
  if (tok.eos_id() >= 0) options_.eos_token = tok.token_to_piece(tok.eos_id(), true);
}

std::string ChatPrompt::render(const std::vector<ChatMessage>& messages) const {
  std::string warning;
  std::string text = render_chat(tmpl_, messages, options_, &warning);
  if (!warning.empty() && !warned_) {
    std::fprintf(stderr, "moerun: %s\n", warning.c_str());
    warned_ = true;
  }
  return text;
}

std::vector<int32_t> ChatPrompt::tokens(const std::vector<ChatMessage>& messages, std::string* text_out) const {
  const std::string text = render(messages);
  if (text_out != nullptr) *text_out = text;
  const Tokenizer& tok = engine_.tokenizer();
  // Templates that write the BOS text themselves must not get a second one.
  const std::string& bos = options_.bos_token;
  const bool has_bos = !bos.empty() && text.compare(0, bos.size(), bos) == 0;
  return tok.encode(text, tok.add_bos() && !has_bos, true);
}

}  // namespace moerun::cli
