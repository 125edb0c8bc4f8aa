// Helpers shared by the tokenizer tests: locating test data and reading
// llama.cpp's .inp/.out vector files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace moerun {

inline std::filesystem::path testdata_dir() {
  return std::filesystem::path(MOERUN_SOURCE_DIR) / ".." / "shared" / "testdata";
}

inline std::string read_file_bytes(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct VectorSet {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
};

// .inp: strings each followed by "\n__ggml_vocab_test__\n"; .out: one line
// of space-separated ids per string (testdata/README.md).
inline VectorSet read_vectors(const std::filesystem::path& inp, const std::filesystem::path& out) {
  VectorSet vs;
  const std::string data = read_file_bytes(inp);
  const std::string sep = "\n__ggml_vocab_test__\n";
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t hit = data.find(sep, pos);
    if (hit == std::string::npos) {
      vs.texts.push_back(data.substr(pos));
      break;
    }
    vs.texts.push_back(data.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  std::istringstream lines(read_file_bytes(out));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    long long v = 0;
    while (ls >> v) ids.push_back(static_cast<int32_t>(v));
    vs.ids.push_back(std::move(ids));
  }
  return vs;
}

inline std::string join(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ' ';
    s += std::to_string(ids[i]);
  }
  return s;
}

inline std::string escape(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '\n') {
      o += "\\n";
    } else if (c == '\t') {
      o += "\\t";
    } else if (c < 0x20) {
      o += "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
    } else {
      o += static_cast<char>(c);
    }
  }
  return o + "\"";
}

}  // namespace moerun
