// ChatPrompt: a conversation -> the prompt tokens a model expects, through
// its chat template (chat and batch share it). Owns choosing the template
// (--chat-template, the GGUF's own, or a fallback with a warning), the BOS /
// EOS text the template sees, and tokenizing the rendered text without a
// second BOS when the template writes one itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/chat/chat_template.h"
#include "core/compute/engine.h"

namespace moerun::cli {

class ChatPrompt {
 public:
  // `override_spec`: --chat-template NAME|FILE (empty: the model's own).
  // Warnings (a fallback was taken) go to stderr.
  ChatPrompt(const Engine& engine, const std::string& override_spec);

  // The prompt text for `messages`, ending with the assistant's turn opening.
  // Throws moerun::Error when the template rejects the conversation.
  std::string render(const std::vector<ChatMessage>& messages) const;
  // render() tokenized (control-token text becomes those tokens); the text
  // itself goes to `text` when given.
  std::vector<int32_t> tokens(const std::vector<ChatMessage>& messages, std::string* text = nullptr) const;

  const ChatTemplate& chat_template() const { return tmpl_; }

 private:
  const Engine& engine_;
  ChatTemplate tmpl_;
  ChatRenderOptions options_;
  mutable bool warned_ = false;  // a render fallback is announced once, not every turn
};

}  // namespace moerun::cli
