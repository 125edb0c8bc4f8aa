// The files of `moerun batch`: requests in, answers out, both JSON Lines.
//
// In:  {"id": ID, "prompt": TEXT} or {"id": ID, "messages": [{"role", "content"}...]},
//      optional "max_tokens" (integer >= 0), "temperature" (number >= 0),
//      "seed" (integer 0..4294967295). ID is a string or a number; blank
//      lines are ignored; other fields are ignored.
// Out: {"id", "text", "tokens_in", "tokens_out", "finish_reason", "ms"},
//      one line per answered request, appended and flushed as each finishes,
//      so a crash loses at most the requests still running.
//
// Owns: parsing and checking requests (a malformed line is reported on
// stderr with its line number and skipped), the duplicate-id check, reading
// the ids an earlier run already answered (resume), and writing answers.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/chat/chat_template.h"

namespace moerun::cli {

struct BatchRequest {
  int64_t line = 0;          // 1-based line in the input file
  nlohmann::json id;         // a string or a number, written back as given
  std::string id_key;        // id.dump(): what resume and duplicates compare ("7" and 7 differ)
  bool chat = false;         // messages (through the chat template) instead of a raw prompt
  std::string prompt;
  std::vector<ChatMessage> messages;
  std::optional<int64_t> max_tokens;
  std::optional<float> temperature;
  std::optional<uint32_t> seed;
};

struct BatchInput {
  std::vector<BatchRequest> requests;  // well-formed lines, in file order
  int64_t n_malformed = 0;
};

// Reads and checks every line of `path`. Malformed lines are reported
// ("IN:LINE: why") and counted; duplicate ids are a bad-input Error that
// lists them with their lines; an unreadable file is a bad-input Error.
BatchInput read_batch_input(const std::string& path);

// Checks one line's JSON; returns the request or throws a bad-input Error
// saying what is wrong (without the file and line: the caller adds them).
BatchRequest parse_batch_request(const std::string& text);

// The id keys already answered in `path` (missing file: none). A last line
// cut short by a crash is removed from the file (and announced), so new
// answers start on a line of their own; other unreadable lines are reported
// and their ids will be answered again.
std::set<std::string> read_answered_ids(const std::string& path);

struct BatchAnswer {
  nlohmann::json id;
  std::string text;
  int64_t tokens_in = 0;
  int64_t tokens_out = 0;
  std::string finish_reason;  // "stop": end-of-generation token; "length": max_tokens or the context
  int64_t ms = 0;
};

// Appends answers to a JSON Lines file, one write and flush per answer.
class AnswerWriter {
 public:
  explicit AnswerWriter(const std::string& path);
  ~AnswerWriter();
  AnswerWriter(const AnswerWriter&) = delete;
  AnswerWriter& operator=(const AnswerWriter&) = delete;
  void write(const BatchAnswer& a);

 private:
  std::string path_;
  FILE* f_ = nullptr;
};

// The JSON line of an answer (no newline). Text that is not valid UTF-8
// (a model can emit a lone byte) gets U+FFFD for the bad bytes.
std::string answer_json(const BatchAnswer& a);

}  // namespace moerun::cli
