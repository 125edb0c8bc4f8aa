// LineInput: the user's messages for `moerun chat`. On a terminal, libedit
// gives line editing and history (kept in $MOERUN_HISTORY, default
// ~/.moerun_history); from a pipe, plain lines. Either way a message may
// span lines:
//   - a line ending in a backslash continues on the next (the backslash
//     becomes a newline);
//   - a line that is exactly """ opens a block that the next such line
//     closes; the lines between are the message.
// Ctrl-C while typing drops the message being typed (kInterrupted);
// Ctrl-D on an empty line, or the end of the input, is kEnd.
#pragma once

#include <string>

namespace moerun::cli {

class LineInput {
 public:
  explicit LineInput(bool terminal);
  ~LineInput();  // saves the history (a terminal)
  LineInput(const LineInput&) = delete;
  LineInput& operator=(const LineInput&) = delete;

  enum class Result { kMessage, kInterrupted, kEnd };
  Result read(std::string& message);

 private:
  // One physical line (without its newline); false at the end or on Ctrl-C.
  bool read_line(const char* prompt, std::string& line);

  bool terminal_;
  std::string history_path_;
};

}  // namespace moerun::cli
