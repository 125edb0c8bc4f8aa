// Pre-tokenizer regex families: every tokenizer.ggml.pre name llama.cpp knows
// compiles and splits losslessly; hand-checked splits for families without
// test vectors; Hugging Face's \s (with U+0085); invalid UTF-8.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/text/pretokenizer.h"

using namespace moerun;

namespace {
std::vector<std::string> split(const char* pre, const std::string& text) {
  PreTokenizer p(pre_tokenizer_spec(pre));
  std::vector<std::string> out;
  for (const TextSpan& s : p.split(text)) out.push_back(text.substr(s.begin, s.end - s.begin));
  return out;
}
using V = std::vector<std::string>;
}  // namespace

TEST_CASE("pretokenizer: every known name compiles and covers the input exactly") {
  const std::vector<std::string> names = pre_tokenizer_names();
  CHECK(names.size() >= 85);  // llama.cpp's list of names
  for (const char* must : {"default", "llama-bpe", "deepseek-llm", "deepseek-coder", "deepseek-v3", "qwen2", "qwen35",
                           "gpt-2", "tekken", "gpt-4o", "kimi-k2", "chatglm-bpe", "bloom", "superbpe"}) {
    CHECK(std::find(names.begin(), names.end(), must) != names.end());
  }
  const std::string text =
      "Hello, World! It's 2024-11-29 12345678.\n\n  \tcafe\xcc\x81 \xe4\xb8\xad\xe6\x96\x87 "
      "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xd0\x9f\xd1\x80\xd0\xb8 <sentinel:3> IMGIMGABZ \xf0\x9f\x98\x80\xff\x80 ";
  for (const std::string& n : names) {
    CAPTURE(n);
    PreTokenizer p(pre_tokenizer_spec(n));
    const auto spans = p.split(text);
    size_t pos = 0;
    for (const TextSpan& s : spans) {
      CHECK(s.begin == pos);
      CHECK(s.end > s.begin);
      pos = s.end;
    }
    CHECK(pos == text.size());
  }
  CHECK_THROWS_AS(pre_tokenizer_spec("no-such-pre-tokenizer"), Error);
  CHECK(std::string(pre_tokenizer_spec("").family) == "default");
}

TEST_CASE("pretokenizer: hand-checked splits") {
  CHECK(split("gpt-2", "Hello world's 123") == V{"Hello", " world", "'s", " 123"});
  // \s+(?!\S) leaves the last space for the word after it.
  CHECK(split("llama-bpe", "  hi") == V{" ", " hi"});
  CHECK(split("llama-bpe", "12345") == V{"123", "45"});
  CHECK(split("qwen2", "12345") == V{"1", "2", "3", "4", "5"});
  // Groups of three counted from the right (lookahead / empty-match split).
  CHECK(split("superbpe", "1234567") == V{"1", "234", "567"});
  CHECK(split("tiny_aya", "1234567") == V{"1", "234", "567"});
  CHECK(split("afmoe", "1234567") == V{"1", "234", "567"});
  // CJK runs are split off before the letter rule.
  CHECK(split("deepseek-v3", "\xe4\xb8\xad\xe6\x96\x87" "abc") == V{"\xe4\xb8\xad\xe6\x96\x87", "abc"});
  CHECK(split("kimi-k2", "\xe4\xb8\xad\xe6\x96\x87" "abc") == V{"\xe4\xb8\xad\xe6\x96\x87", "abc"});
  CHECK(split("deepseek-v3", "1234") == V{"123", "4"});
  // BLOOM: the class excludes punctuation, which falls into the gaps.
  CHECK(split("bloom", "hello, world") == V{"hello", ",", " world"});
  CHECK(split("whitespace", "a  b") == V{"a", "  ", "b"});
  // Case-insensitive contractions in the original Llama 3 regex.
  CHECK(split("llama-bpe", "I'LL go") == V{"I", "'LL", " go"});
  CHECK(split("gpt-4o", "HelloWorld") == V{"Hello", "World"});
  CHECK(split("default", "a+b") == V{"a", "+", "b"});
}

TEST_CASE("pretokenizer: U+0085 counts as whitespace, as in Hugging Face's engines") {
  // With NEL as \s, \s+(?!\S) takes the first NEL and the second joins "b";
  // without it both would form one punctuation piece.
  CHECK(split("qwen2", "a\xc2\x85\xc2\x85" "b") == V{"a", "\xc2\x85", "\xc2\x85" "b"});
}

TEST_CASE("pretokenizer: invalid UTF-8 splits like a symbol and keeps its bytes") {
  CHECK(split("gpt-2", "a\xff" "b") == V{"a", "\xff", "b"});
  CHECK(split("gpt-2", "ab \x80\x80 cd") == V{"ab", " \x80\x80", " cd"});
  // NUL is neither letter, digit nor space: it leads the next word.
  CHECK(split("qwen2", std::string("x\0y", 3)) == V{"x", std::string("\0y", 2)});
  CHECK(split("gpt-2", "").empty());
}
