#include "cli/line_input.h"

#include <editline/readline.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "cli/interrupt.h"

namespace moerun::cli {

namespace {

// Lines kept in the history file: enough for weeks of chat, a few hundred KB.
constexpr int kHistoryLines = 2000;
constexpr const char* kBlock = "\"\"\"";

// libedit's own read can miss a Ctrl-C: its handler puts the terminal back
// in cooked mode and re-raises the signal, and if that lands between two
// reads the next read blocks for a whole line. So the keys are read here:
// a wait on the terminal and on the interrupt pipe together, then a read
// that cannot block (the Ctrl-C may have flushed the keys poll saw), from a
// non-blocking descriptor of our own so stdin's flags, shared with the
// shell, stay as they are. -1 makes readline return NULL, which the caller
// reads as interrupted when the flag is set.
int g_keys_fd = -1;

int getc_or_interrupt(FILE* in) {
  const int fd = g_keys_fd >= 0 ? g_keys_fd : fileno(in);
  for (;;) {
    if (interrupted()) return -1;
    pollfd fds[2] = {{fd, POLLIN, 0}, {interrupt_fd(), POLLIN, 0}};
    if (::poll(fds, fds[1].fd >= 0 ? 2 : 1, -1) < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (fds[1].revents != 0) return -1;
    if (fds[0].revents == 0) continue;
    unsigned char c = 0;
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 1) return c;
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    return -1;  // end of input
  }
}

}  // namespace

LineInput::LineInput(bool terminal) : terminal_(terminal) {
  if (!terminal_) return;
  if (const char* p = std::getenv("MOERUN_HISTORY"); p != nullptr) {
    history_path_ = p;  // empty: no history file
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    history_path_ = std::string(home) + "/.moerun_history";
  }
  // Prompts and the echo of typing go where the user looks: stdout may be
  // redirected to collect the answers.
  if (isatty(STDOUT_FILENO) == 0) rl_outstream = stderr;
  if (const char* tty = ttyname(STDIN_FILENO); tty != nullptr) {
    g_keys_fd = ::open(tty, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);  // -1: stdin, blocking
  }
  rl_getc_function = getc_or_interrupt;  // before using_history(), which sets libedit up
  using_history();
  stifle_history(kHistoryLines);
  if (!history_path_.empty()) read_history(history_path_.c_str());  // a missing file is fine
}

LineInput::~LineInput() {
  if (terminal_ && !history_path_.empty()) write_history(history_path_.c_str());
  if (g_keys_fd >= 0) ::close(g_keys_fd);
  g_keys_fd = -1;
}

bool LineInput::read_line(const char* prompt, std::string& line) {
  if (terminal_) {
    char* s = readline(prompt);
    if (s == nullptr) return false;  // Ctrl-D, or Ctrl-C (the caller asks interrupted())
    line = s;
    std::free(s);
    return true;
  }
  line.clear();
  for (;;) {
    const int c = std::fgetc(stdin);
    if (c == EOF) {
      if (std::ferror(stdin) && errno == EINTR) {
        std::clearerr(stdin);
        if (interrupted()) return false;
        continue;
      }
      return !line.empty();  // a last line without its newline still counts
    }
    if (c == '\n') break;
    line += static_cast<char>(c);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

LineInput::Result LineInput::read(std::string& message) {
  message.clear();
  std::string line;
  bool block = false, more = false, first = true;
  for (;;) {
    const char* prompt = block || more ? "... " : "> ";
    clear_interrupt();
    if (!read_line(prompt, line)) {
      if (interrupted()) {
        clear_interrupt();
        return Result::kInterrupted;
      }
      // The end of the input inside a message still sends what was typed.
      return message.empty() ? Result::kEnd : Result::kMessage;
    }
    if (terminal_ && !line.empty()) add_history(line.c_str());
    if (line == kBlock) {
      if (block) return Result::kMessage;
      block = true;
      continue;
    }
    if (block) {
      if (!first) message += '\n';
      message += line;
      first = false;
      continue;
    }
    if (!line.empty() && line.back() == '\\') {
      line.pop_back();
      message += line + "\n";
      more = true;
      continue;
    }
    message += line;
    return Result::kMessage;
  }
}

}  // namespace moerun::cli
