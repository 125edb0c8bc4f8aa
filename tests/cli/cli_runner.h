// Runs the built moerun binary for end-to-end tests: exit status, stdout and
// stderr, with optional stdin text.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

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

// `args` is appended to the binary's path as shell words.
inline CliResult run_moerun(const std::string& args, const std::string& stdin_text = "") {
  const std::string dir = cli_temp_dir();
  std::ofstream(dir + "/stdin", std::ios::binary) << stdin_text;
  const std::string cmd = std::string(MOERUN_BINARY_DIR) + "/moerun " + args + " >" + dir + "/stdout 2>" + dir +
                          "/stderr <" + dir + "/stdin";
  const int rc = std::system(cmd.c_str());
  CliResult r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  r.out = slurp(dir + "/stdout");
  r.err = slurp(dir + "/stderr");
  return r;
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace moerun::test
