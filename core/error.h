// moerun::Error: the one exception type for user-facing failures.
// Owns the error taxonomy (bad input vs runtime) that the CLI maps to exit
// statuses 2 and 1 (DESIGN §9). Does not own printing.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <string>

namespace moerun {

enum class ErrorKind {
  kBadInput,  // bad usage, bad file, bad prompt: exit status 2
  kRuntime,   // the input was fine but something failed: exit status 1
};

// Messages quote text from input files (keys, tensor names, template source),
// which may hold newlines or be megabytes long: the message is made one
// printable line, control bytes escaped as \xNN, and cut at 2 KiB.
inline std::string one_line(const std::string& what) {
  constexpr size_t kMaxBytes = 2048;
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(what.size(), kMaxBytes));
  for (size_t i = 0; i < what.size(); ++i) {
    if (out.size() >= kMaxBytes) {
      out += "... (" + std::to_string(what.size()) + " bytes)";
      break;
    }
    const auto c = static_cast<unsigned char>(what[i]);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, ErrorKind kind = ErrorKind::kBadInput)
      : std::runtime_error(one_line(what)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int exit_status() const { return kind_ == ErrorKind::kBadInput ? 2 : 1; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void fail(const std::string& what) { throw Error(what, ErrorKind::kBadInput); }
[[noreturn]] inline void fail_runtime(const std::string& what) { throw Error(what, ErrorKind::kRuntime); }

}  // namespace moerun
