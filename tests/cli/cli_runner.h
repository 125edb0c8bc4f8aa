// Runs the built moerun binary for end-to-end tests: exit status, stdout and
// stderr, with optional stdin text.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/temp_dir.h"

namespace moerun::test {

struct CliResult {
  int status = -1;
  std::string out;
  std::string err;
};

inline std::string cli_temp_dir() { return temp_dir("moerun-cli-test-"); }

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string moerun_binary() { return std::string(MOERUN_BINARY_DIR) + "/moerun"; }

// `args` is appended to the binary's path as shell words; `env` ("NAME=value
// ...") goes in front of it.
inline CliResult run_moerun(const std::string& args, const std::string& stdin_text = "", const std::string& env = "") {
  const std::string dir = cli_temp_dir();
  std::ofstream(dir + "/stdin", std::ios::binary) << stdin_text;
  const std::string cmd = (env.empty() ? "" : "env " + env + " ") + moerun_binary() + " " + args + " >" + dir +
                          "/stdout 2>" + dir + "/stderr <" + dir + "/stdin";
  const int rc = std::system(cmd.c_str());
  CliResult r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  r.out = slurp(dir + "/stdout");
  r.err = slurp(dir + "/stderr");
  return r;
}

// Starts moerun in the background through the shell (same `args` and `env`
// as run_moerun; stdout and stderr to files NAME.out and NAME.err in the
// temp dir, stdin from /dev/null). Returns the shell's pid; the shell execs
// moerun, so signals sent to it reach moerun.
inline pid_t spawn_moerun(const std::string& args, const std::string& name, const std::string& env = "") {
  const std::string dir = cli_temp_dir();
  const std::string cmd = "exec " + std::string(env.empty() ? "" : "env " + env + " ") + moerun_binary() + " " + args +
                          " >" + dir + "/" + name + ".out 2>" + dir + "/" + name + ".err </dev/null";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

// Waits for a spawned process; its exit status, or 128 + the signal.
inline int wait_moerun(pid_t pid) {
  int rc = 0;
  while (::waitpid(pid, &rc, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace moerun::test
