// The slash commands of `moerun chat` (/help lists them). Their output goes
// to stderr like every other message that is not the model's answer, so a
// script reading stdout sees answers only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cli/chat_session.h"
#include "core/compute/sampler.h"

namespace moerun::cli {

// What the commands read and change.
struct ChatState {
  explicit ChatState(ChatSession& s) : session(s) {}
  ChatSession& session;
  SamplerParams sampling;
  std::unique_ptr<Sampler> sampler;  // rebuilt when /set changes a sampling value
  int64_t n_predict = 512;
  TurnStats last;                    // the last answer
  TurnStats total;                   // every answer so far (counts and times summed)
  int64_t turns = 0;
};

enum class CommandResult {
  kNotCommand,  // an ordinary message (including "//text", sent as "/text")
  kHandled,
  kExit,
};

// Runs `line` if it is a command. Bad arguments are reported, never fatal.
CommandResult run_chat_command(const std::string& line, ChatState& state);

// The /help text (also in `chat --help`).
const char* chat_commands_help();

// Adds one answer's figures to state.last and state.total.
void record_turn(ChatState& state, const TurnStats& t);

}  // namespace moerun::cli
