// Runs the built moerun binary on a pseudo-terminal (forkpty), the way a
// user's terminal drives it: keystrokes in (Ctrl-C as the byte 0x03, which
// the terminal turns into SIGINT; Ctrl-D as 0x04), everything it prints out.
#pragma once

#include <poll.h>
#include <termios.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "tests/cli/cli_runner.h"

namespace moerun::test {

class PtyProcess {
 public:
  // `env`: extra NAME=value entries; TERM is set to xterm unless given.
  PtyProcess(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    winsize ws{};
    ws.ws_row = 40;
    ws.ws_col = 120;
    pid_ = ::forkpty(&fd_, nullptr, nullptr, &ws);
    if (pid_ == 0) {
      ::setenv("TERM", "xterm", 1);
      for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> argv;
      const std::string bin = moerun_binary();
      argv.push_back(const_cast<char*>(bin.c_str()));
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(bin.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~PtyProcess() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      wait_exit(10);
    }
    if (fd_ >= 0) ::close(fd_);
  }
  PtyProcess(const PtyProcess&) = delete;
  PtyProcess& operator=(const PtyProcess&) = delete;

  bool started() const { return pid_ > 0 && fd_ >= 0; }
  void send(const std::string& keys) { (void)!::write(fd_, keys.data(), keys.size()); }

  // Reads until the output after `from` contains `needle`; false after
  // `seconds` (a guard against a hang, not a timing check).
  bool wait_for(const std::string& needle, size_t from = 0, double seconds = 60) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (out_.find(needle, from) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline || !read_some(50)) {
        if (std::chrono::steady_clock::now() > deadline || eof_) return out_.find(needle, from) != std::string::npos;
      }
    }
    return true;
  }
  // Waits until the program reads keys one by one (libedit has switched
  // the terminal out of canonical mode): keys sent earlier would be echoed
  // and edited by the kernel's line discipline instead. On Linux the
  // master side reports the terminal's settings.
  bool wait_line_editor(double seconds = 60) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
      termios t{};
      if (::tcgetattr(fd_, &t) == 0 && (t.c_lflag & ICANON) == 0) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      read_some(5);
    }
  }
  // Waits for `prompt` after `from`, then for the line editor.
  bool wait_prompt(size_t from, const std::string& prompt = "> ") {
    return wait_for(prompt, from) && wait_line_editor();
  }
  // Waits for the process to end; its exit status (128 + signal), or -1.
  int wait_exit(double seconds = 60) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    for (;;) {
      while (!eof_ && read_some(10)) {
      }
      int rc = 0;
      const pid_t r = ::waitpid(pid_, &rc, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        while (!eof_ && read_some(10)) {
        }
        return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
      }
      if (std::chrono::steady_clock::now() > deadline) return -1;
    }
  }
  const std::string& output() const { return out_; }

 private:
  // Reads what is available within `ms`; false when nothing came.
  bool read_some(int ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(fd_, buf, sizeof(buf));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) return true;
      eof_ = true;  // EIO: the child closed the terminal
      return false;
    }
    out_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  bool exited_ = false, eof_ = false;
  std::string out_;
};

}  // namespace moerun::test
