// DeepSeek-V3's Hugging Face tokenizer.json (not a GGUF) against its vectors.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/text/tokenizer.h"
#include "core/text/tokenizer_json.h"
#include "tests/core/text/test_tokenizer_util.h"

using namespace moerun;

TEST_CASE("tokenizer.json: DeepSeek-V3 reproduces tokenizers/deepseek_v3 vectors") {
  const auto dir = testdata_dir() / "tokenizers" / "deepseek_v3";
  auto tok = Tokenizer::from_vocab(
      vocab_from_tokenizer_json((dir / "tokenizer.json").string(), (dir / "tokenizer_config.json").string()));
  // The split rules are exactly llama.cpp's "deepseek-v3" family.
  CHECK(tok->vocab().pre == "deepseek-v3");
  CHECK(tok->n_vocab() == 128815);
  CHECK(tok->bos_id() == 0);
  CHECK(tok->eos_id() == 1);
  CHECK(tok->add_bos());
  CHECK_FALSE(tok->add_eos());
  CHECK(tok->is_eog(1));
  CHECK(tok->encode("", true, false) == std::vector<int32_t>{0});

  const VectorSet vs = read_vectors(dir / "deepseek_v3.inp", dir / "deepseek_v3.out");
  REQUIRE(vs.texts.size() == 50);
  REQUIRE(vs.ids.size() == 50);
  size_t pass = 0;
  for (size_t i = 0; i < vs.texts.size(); ++i) {
    const auto got = tok->encode(vs.texts[i], false, false);
    if (got == vs.ids[i]) {
      ++pass;
    } else {
      MESSAGE("case " << i << " text=" << escape(vs.texts[i]) << "\n  want " << join(vs.ids[i]) << "\n  got  "
                      << join(got));
    }
    CHECK(tok->detokenize(got) == vs.texts[i]);
  }
  MESSAGE("deepseek_v3 tokenizer.json: " << pass << "/" << vs.texts.size() << " cases");
  CHECK(pass == vs.texts.size());

  // Special-token text: plain text by default, the token with parse_special.
  const std::string s = "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>";
  CHECK(tok->encode(s, false, true) == std::vector<int32_t>{1});
  const auto plain = tok->encode(s, false, false);
  CHECK(plain.size() > 1);
  CHECK(tok->decode(plain) == s);
}

TEST_CASE("tokenizer.json: bad files are clean errors") {
  CHECK_THROWS_AS(vocab_from_tokenizer_json((testdata_dir() / "no-such-file.json").string()), Error);
  // A GGUF is not JSON.
  CHECK_THROWS_AS(vocab_from_tokenizer_json((testdata_dir() / "vocab" / "ggml-vocab-gpt-2.gguf").string()), Error);
  // Valid JSON without a model.
  CHECK_THROWS_AS(vocab_from_tokenizer_json((testdata_dir() / "tokenizers" / "deepseek_v3" / "tokenizer_config.json").string()),
                  Error);
}

TEST_CASE("tokenizer.json: merges as pairs, custom split regexes, added tokens, id holes") {
  // A tiny byte-level BPE written in the newer tokenizer.json style. Its split
  // rule (digits) matches no llama.cpp family, so it is used as written.
  const std::string json = R"({
    "added_tokens": [
      {"id": 10, "content": "<|end|>", "special": true},
      {"id": 11, "content": "hello", "special": false}
    ],
    "normalizer": null,
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "\\d"}, "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "\u0120": 3, "ab": 4, "abc": 5, "\u0120ab": 6,
                                       "1": 7, "2": 8},
              "merges": [["a", "b"], ["ab", "c"], ["\u0120", "ab"]]}
  })";
  const std::string config = R"({"eos_token": "<|end|>", "bos_token": null, "add_bos_token": false})";
  const auto dir = std::filesystem::temp_directory_path() / ("moerun_tokjson_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "tokenizer.json") << json;
  std::ofstream(dir / "tokenizer_config.json") << config;
  auto tok = Tokenizer::from_vocab(
      vocab_from_tokenizer_json((dir / "tokenizer.json").string(), (dir / "tokenizer_config.json").string()));
  std::filesystem::remove_all(dir);

  CHECK(tok->n_vocab() == 12);
  CHECK(tok->vocab().tokens[9].text == "[PAD9]");  // the hole
  CHECK(tok->decode({9}) == "");
  CHECK(tok->eos_id() == 10);
  CHECK(tok->bos_id() == -1);
  CHECK(tok->is_eog(10));
  // "abc ab" -> a b c Ġ a b; rank 0 "a b" twice (leftmost first), then
  // "ab c", then "Ġ ab": [abc, Ġab]. Digits are split off one by one.
  CHECK(tok->encode("abc ab12", true, false) == std::vector<int32_t>{5, 6, 7, 8});
  CHECK(tok->decode({5, 6, 7, 8}) == "abc ab12");
  // User-defined tokens are matched in raw text; control ones only when asked.
  CHECK(tok->encode("ahello", false, false) == std::vector<int32_t>{0, 11});
  CHECK(tok->encode("<|end|>", false, true) == std::vector<int32_t>{10});
  // Characters the vocabulary cannot express at all are dropped.
  CHECK(tok->encode("<|end|>", false, false).empty());
}
