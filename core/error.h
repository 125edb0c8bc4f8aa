// moerun::Error: the one exception type for user-facing failures.
// Owns the error taxonomy (bad input vs runtime) that the CLI maps to exit
// statuses 2 and 1 (DESIGN §9). Does not own printing.
#pragma once

#include <stdexcept>
#include <string>

namespace moerun {

enum class ErrorKind {
  kBadInput,  // bad usage, bad file, bad prompt: exit status 2
  kRuntime,   // the input was fine but something failed: exit status 1
};

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what, ErrorKind kind = ErrorKind::kBadInput)
      : std::runtime_error(what), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  int exit_status() const { return kind_ == ErrorKind::kBadInput ? 2 : 1; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void fail(const std::string& what) { throw Error(what, ErrorKind::kBadInput); }
[[noreturn]] inline void fail_runtime(const std::string& what) { throw Error(what, ErrorKind::kRuntime); }

}  // namespace moerun
