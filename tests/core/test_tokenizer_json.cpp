// DeepSeek-V3's Hugging Face tokenizer.json (not a GGUF) against its vectors.
#include <doctest/doctest.h>

#include "core/error.h"
#include "core/tokenizer.h"
#include "core/tokenizer_json.h"
#include "tests/core/test_tokenizer_util.h"

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
