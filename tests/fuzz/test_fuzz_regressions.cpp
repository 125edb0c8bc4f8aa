// Every input a fuzzer ever broke moerun with is kept under
// tests/fuzz/regressions/<target>/ and replayed here through the same entry
// function, in every build (the sanitizer build included). An input that
// crashes, trips a sanitizer or breaks an invariant kills this test.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/fuzz/fuzz_targets.h"

namespace fs = std::filesystem;

namespace {

using Entry = int (*)(const uint8_t*, size_t);

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int feed(Entry entry, const std::string& bytes) {
  return entry(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

int replay(const char* target, Entry entry) {
  const fs::path dir = fs::path(MOERUN_SOURCE_DIR) / "tests/fuzz/regressions" / target;
  int n = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    INFO(e.path().string());
    CHECK(feed(entry, slurp(e.path())) == 0);
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("fuzz regressions: gguf") {
  replay("gguf", moerun::fuzz::gguf_input);
  // A whole real model with the forward flag: the target loads and runs it.
  const std::string model = slurp(moerun::fuzz::testdata_dir() + "/models/stories260K.gguf");
  REQUIRE(model.size() > 1000);
  CHECK(feed(moerun::fuzz::gguf_input, std::string("\0\0\0\x80", 4) + model) == 0);
}

TEST_CASE("fuzz regressions: tokenizers") {
  replay("tokenize_spm", moerun::fuzz::tokenize_spm_input);
  replay("tokenize_bpe", moerun::fuzz::tokenize_bpe_input);
  const std::string text = std::string(1, '\0') + " Hello  world\n\xe2\x82\xac \xff<s>";
  CHECK(feed(moerun::fuzz::tokenize_spm_input, text) == 0);
  CHECK(feed(moerun::fuzz::tokenize_bpe_input, text) == 0);
}

TEST_CASE("fuzz regressions: batch requests") {
  replay("batch_jsonl", moerun::fuzz::batch_jsonl_input);
  CHECK(feed(moerun::fuzz::batch_jsonl_input, "{\"id\": 1, \"prompt\": \"a\"}\n\n{\"id\": [1]}\n{") == 0);
}

TEST_CASE("fuzz regressions: chat templates") {
  replay("chat_template", moerun::fuzz::chat_template_input);
  const std::string tmpl = slurp(moerun::fuzz::testdata_dir() + "/templates/Qwen-Qwen3-0.6B.jinja");
  REQUIRE(!tmpl.empty());
  CHECK(feed(moerun::fuzz::chat_template_input, std::string(1, '\1') + tmpl + std::string("\0user\0Hi", 8)) == 0);
}
