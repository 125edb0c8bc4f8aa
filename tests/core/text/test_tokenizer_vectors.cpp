// Tokenizer test vectors: every vocab/*.gguf with .inp/.out next to it (files
// added to the folder are picked up with no code change), plus the
// stories260K prompts and round trips.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/gguf/gguf.h"
#include "core/text/tokenizer.h"
#include "tests/core/text/test_tokenizer_util.h"

namespace fs = std::filesystem;
using namespace moerun;

TEST_CASE("tokenizer: every vocab/*.gguf reproduces its .inp/.out vectors") {
  const fs::path dir = testdata_dir() / "vocab";
  REQUIRE(fs::is_directory(dir));
  std::vector<fs::path> ggufs;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".gguf") ggufs.push_back(e.path());
  }
  std::sort(ggufs.begin(), ggufs.end());
  REQUIRE(ggufs.size() >= 8);  // the folder as shipped; more files are welcome
  size_t total = 0;
  for (const fs::path& g : ggufs) {
    const fs::path inp = g.string() + ".inp";
    const fs::path outp = g.string() + ".out";
    if (!fs::exists(inp) || !fs::exists(outp)) continue;
    CAPTURE(g.filename().string());
    auto file = GgufFile::open(g.string());
    auto tok = Tokenizer::from_gguf(*file);
    const VectorSet vs = read_vectors(inp, outp);
    REQUIRE(vs.texts.size() == vs.ids.size());
    size_t pass = 0;
    for (size_t i = 0; i < vs.texts.size(); ++i) {
      const auto got = tok->encode(vs.texts[i], false, false);
      if (got == vs.ids[i]) {
        ++pass;
      } else {
        MESSAGE(g.filename().string() << " case " << i << " text=" << escape(vs.texts[i]) << "\n  want "
                                      << join(vs.ids[i]) << "\n  got  " << join(got));
      }
      // Lossless round trip (every vector here is valid UTF-8 text).
      CHECK(tok->detokenize(got) == vs.texts[i]);
    }
    MESSAGE(g.filename().string() << ": " << pass << "/" << vs.texts.size() << " cases");
    CHECK(pass == vs.texts.size());
    total += vs.texts.size();
  }
  CHECK(total >= 8 * 46);
}

TEST_CASE("tokenizer: stories260K prompt_tokens (BOS + SentencePiece)") {
  auto file = GgufFile::open((testdata_dir() / "models" / "stories260K.gguf").string());
  auto tok = Tokenizer::from_gguf(*file);
  CHECK(tok->n_vocab() == 512);
  CHECK(tok->bos_id() == 1);
  CHECK(tok->eos_id() == 2);
  CHECK(tok->unk_id() == 0);
  CHECK(tok->add_bos());
  CHECK_FALSE(tok->add_eos());
  CHECK(tok->is_eog(2));
  CHECK_FALSE(tok->is_eog(1));
  // Prompts and ids from models/stories260K.greedy.json.
  CHECK(tok->encode("", true, false) == std::vector<int32_t>{1});
  CHECK(tok->encode("Once upon a time", true, false) == std::vector<int32_t>{1, 403, 407, 261, 378});
  CHECK(tok->encode("Lily and Tom went to the park.", true, false) ==
        std::vector<int32_t>{1, 317, 269, 274, 287, 263, 377, 267, 265, 282, 295, 433, 426});
  // Every case of the greedy file: prompt ids, and greedy_text is the
  // concatenated pieces of greedy_tokens.
  const auto j = nlohmann::json::parse(read_file_bytes(testdata_dir() / "models" / "stories260K.greedy.json"));
  REQUIRE(j.at("cases").size() >= 3);
  for (const auto& c : j.at("cases")) {
    CAPTURE(c.at("name").get<std::string>());
    CHECK(tok->encode(c.at("prompt_text").get<std::string>(), true, false) ==
          c.at("prompt_tokens").get<std::vector<int32_t>>());
    CHECK(tok->decode(c.at("greedy_tokens").get<std::vector<int32_t>>()) == c.at("greedy_text").get<std::string>());
  }
  CHECK(tok->decode({1, 403, 407, 261, 378}) == " Once upon a time");
  CHECK(tok->detokenize({1, 403, 407, 261, 378}) == "Once upon a time");
}

TEST_CASE("tokenizer: encode is safe to call from several threads at once") {
  auto file = GgufFile::open((testdata_dir() / "vocab" / "ggml-vocab-llama-bpe.gguf").string());
  auto tok = Tokenizer::from_gguf(*file);
  const VectorSet vs =
      read_vectors(testdata_dir() / "vocab" / "ggml-vocab-llama-bpe.gguf.inp", testdata_dir() / "vocab" / "ggml-vocab-llama-bpe.gguf.out");
  std::vector<int> ok(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) {
        for (size_t i = 0; i < vs.texts.size(); ++i) ok[t] += tok->encode(vs.texts[i], false, false) == vs.ids[i];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) CHECK(ok[t] == static_cast<int>(5 * vs.texts.size()));
}
