#include "cli/chat_session.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cli/generate.h"
#include "cli/interrupt.h"
#include "core/error.h"

namespace moerun::cli {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Prompt tokens per forward pass: the chunk `run` uses; between chunks Ctrl-C is seen.
constexpr int64_t kPrefillChunk = 512;

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

// Whether the rendered prompt leaves the model inside a <think> section
// (R1-style templates open it in the generation prompt).
bool opens_thinking(const std::string& text) {
  const size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return false;
  const std::string open = ThinkFilter::kOpen;
  return end + 1 >= open.size() && text.compare(end + 1 - open.size(), open.size(), open) == 0;
}

}  // namespace

ChatSession::ChatSession(Engine& engine, const ChatPrompt& prompt, const std::string& system)
    : engine_(engine), prompt_(prompt) {
  set_system(system);
}

void ChatSession::set_system(const std::string& text) {
  if (!messages_.empty() && messages_[0].role == "system") messages_.erase(messages_.begin());
  system_ = text;
  if (!text.empty()) messages_.insert(messages_.begin(), {"system", text});
}

void ChatSession::reset() {
  messages_.clear();
  set_system(system_);
}

void ChatSession::set_messages(std::vector<ChatMessage> messages) {
  messages_ = std::move(messages);
  system_ = !messages_.empty() && messages_[0].role == "system" ? messages_[0].content : "";
}

std::vector<int32_t> ChatSession::fit(int64_t reserve, int64_t* dropped, std::string* text) {
  const int64_t n_ctx = engine_.n_ctx();
  *dropped = 0;
  std::vector<int32_t> tokens = prompt_.tokens(messages_, text);
  const size_t first = !messages_.empty() && messages_[0].role == "system" ? 1 : 0;
  // The newest message (the one being answered) is never dropped.
  while (static_cast<int64_t>(tokens.size()) + reserve > n_ctx && messages_.size() > first + 1) {
    messages_.erase(messages_.begin() + static_cast<int64_t>(first));
    // A turn is the user's message and the answer to it.
    if (messages_.size() > first + 1 && messages_[first].role == "assistant") {
      messages_.erase(messages_.begin() + static_cast<int64_t>(first));
    }
    ++*dropped;
    tokens = prompt_.tokens(messages_, text);
  }
  return tokens;
}

TurnStats ChatSession::answer(const std::string& user, Sampler& sampler, int64_t n_predict, ThinkFilter& think,
                              const std::function<void(const std::string&)>& out) {
  TurnStats st;
  const int64_t n_ctx = engine_.n_ctx();
  const int64_t reserve = n_predict < 0 ? n_ctx / 4 : std::min(n_predict, n_ctx / 2);
  const std::vector<ChatMessage> before = messages_;
  messages_.push_back({"user", user});
  std::string text;
  std::vector<int32_t> prompt;
  try {
    prompt = fit(reserve, &st.dropped_turns, &text);
  } catch (...) {
    messages_ = before;
    throw;
  }
  if (static_cast<int64_t>(prompt.size()) >= n_ctx) {
    messages_ = before;
    fail("the message does not fit: with the system prompt it takes " + std::to_string(prompt.size()) +
         " tokens, the context holds " + std::to_string(n_ctx) + " (raise -c)");
  }
  if (st.dropped_turns > 0) {
    std::fprintf(stderr,
                 "moerun: context full: dropped the oldest %lld turn(s) to make room; the system prompt is kept\n",
                 static_cast<long long>(st.dropped_turns));
  }

  // Keep the cached prefix; evaluate from the first token that changed (at
  // least the last one, whose logits are needed).
  const size_t keep = std::min(common_prefix(cached_, prompt), prompt.size() - 1);
  engine_.kv().set_len(0, static_cast<int64_t>(keep));
  cached_.resize(keep);
  st.reused_tokens = static_cast<int64_t>(keep);
  const Clock::time_point t0 = Clock::now();
  std::vector<float> logits;
  for (size_t i = keep; i < prompt.size(); i += kPrefillChunk) {
    if (interrupted()) {  // nothing answered: the message is not part of the conversation
      st.interrupted = true;
      messages_ = before;
      st.prefill_seconds = seconds_since(t0);
      return st;
    }
    const size_t end = std::min(prompt.size(), i + kPrefillChunk);
    const std::vector<int32_t> chunk(prompt.begin() + static_cast<int64_t>(i),
                                     prompt.begin() + static_cast<int64_t>(end));
    logits = prefill(engine_, chunk, static_cast<int64_t>(i), 0, kPrefillChunk);
    cached_.insert(cached_.end(), chunk.begin(), chunk.end());
    st.prompt_tokens += static_cast<int64_t>(chunk.size());
  }
  st.prefill_seconds = seconds_since(t0);

  if (opens_thinking(text)) think.start_inside();
  const Tokenizer& tok = engine_.tokenizer();
  StreamDecoder stream(tok);
  std::string reply;
  std::vector<int32_t> history = prompt;
  int64_t pos = static_cast<int64_t>(prompt.size());
  const Clock::time_point t1 = Clock::now();
  for (int64_t n = 0; n_predict < 0 || n < n_predict; ++n) {
    if (interrupted()) {
      st.interrupted = true;
      break;
    }
    const int32_t t = sampler.sample(logits.data(), engine_.n_vocab(), history);
    if (tok.is_eog(t)) break;
    history.push_back(t);
    ++st.generated;
    const std::string piece = stream.push(t);
    reply += piece;
    out(think.push(piece));
    if (pos >= n_ctx) {  // no position left to feed it at
      st.context_full = true;
      break;
    }
    if (n_predict >= 0 && n + 1 >= n_predict) break;  // its logits would not be used
    logits = decode_step(engine_, t, pos, 0);
    cached_.push_back(t);
    ++pos;
  }
  st.decode_seconds = seconds_since(t1);
  const std::string rest = stream.flush();
  reply += rest;
  out(think.push(rest));
  out(think.flush());
  if (st.interrupted && reply.empty()) {
    messages_ = before;
  } else {
    messages_.push_back({"assistant", reply});
  }
  return st;
}

}  // namespace moerun::cli
