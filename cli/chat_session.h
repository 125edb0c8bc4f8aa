// ChatSession: one conversation of `moerun chat` and the KV cache behind it.
// Each turn re-renders the whole conversation with the chat template and
// evaluates only the tokens after the longest prefix the cache already holds
// (usually everything up to the new message).
//
// When the context is full (the policy `chat --help` documents):
//   - before a turn, the oldest turns (a user message and the answer to it)
//     are dropped, one at a time, until the conversation plus room for the
//     answer (-n, at most half the context) fits; the system prompt always
//     stays. The cache keeps the prefix that did not change: the system
//     prompt, when the template puts it first. Announced on stderr.
//   - a message too long for the context even alone is refused (stderr),
//     the conversation is left as it was;
//   - an answer that reaches the end of the context stops there (stderr);
//     the next turn drops old turns as above.
// Owns: the messages, the cached tokens, the policy, one answer's
// generation and its timing. Does not own: reading input, commands, or
// where the text goes (a callback).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cli/chat_prompt.h"
#include "cli/think_filter.h"
#include "core/compute/engine.h"
#include "core/compute/sampler.h"

namespace moerun::cli {

struct TurnStats {
  int64_t prompt_tokens = 0;  // tokens evaluated for the prompt
  int64_t reused_tokens = 0;  // prompt tokens the cache already held
  double prefill_seconds = 0;
  int64_t generated = 0;
  double decode_seconds = 0;
  int64_t dropped_turns = 0;
  bool interrupted = false;   // Ctrl-C stopped it
  bool context_full = false;  // the answer reached the end of the context
};

class ChatSession {
 public:
  ChatSession(Engine& engine, const ChatPrompt& prompt, const std::string& system);

  // Replaces the system prompt ("" removes it); the rest of the conversation stays.
  void set_system(const std::string& text);
  const std::string& system() const { return system_; }
  // Forgets every turn, keeps the system prompt.
  void reset();
  const std::vector<ChatMessage>& messages() const { return messages_; }
  // Replaces the conversation (/load): a leading system message becomes the system prompt.
  void set_messages(std::vector<ChatMessage> messages);

  // Answers `user`: sampled with `sampler`, at most n_predict tokens (< 0:
  // until the end of generation or the context), each piece of text passed
  // through `think` to `out` as it comes. Ctrl-C (cli/interrupt.h) stops it.
  // A message that cannot fit is a bad-input Error and changes nothing.
  TurnStats answer(const std::string& user, Sampler& sampler, int64_t n_predict, ThinkFilter& think,
                   const std::function<void(const std::string&)>& out);

  int64_t context_used() const { return static_cast<int64_t>(cached_.size()); }
  int64_t context_size() const { return engine_.n_ctx(); }

 private:
  // The prompt for messages_ after dropping old turns until it leaves
  // `reserve` tokens free; sets *dropped.
  std::vector<int32_t> fit(int64_t reserve, int64_t* dropped, std::string* text);

  Engine& engine_;
  const ChatPrompt& prompt_;
  std::string system_;
  std::vector<ChatMessage> messages_;  // system first when there is one
  std::vector<int32_t> cached_;        // tokens whose K/V are in the cache, in order
};

}  // namespace moerun::cli
