// A per-process temporary folder for a test file's outputs, removed when the
// test process ends, so test runs leave nothing behind in the temp folder
// (some write ~100 MB of models per run).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

namespace moerun::test {

// The folder <temp>/<prefix><pid>, made on first use.
inline std::string temp_dir(const std::string& prefix) {
  struct Dir {
    std::filesystem::path path;
    explicit Dir(const std::string& p)
        : path(std::filesystem::temp_directory_path() / (p + std::to_string(::getpid()))) {
      std::filesystem::create_directories(path);
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<Dir>> dirs;  // destroyed at exit: the folders go
  std::lock_guard<std::mutex> lock(mu);
  std::unique_ptr<Dir>& d = dirs[prefix];
  if (!d) d = std::make_unique<Dir>(prefix);
  return d->path.string();
}

}  // namespace moerun::test
