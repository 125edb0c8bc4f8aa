// UTF-8 helpers and the streaming detokenizer.
#include <doctest/doctest.h>

#include <string>

#include "core/gguf/gguf.h"
#include "core/text/tokenizer.h"
#include "core/text/unicode.h"
#include "core/text/utf8.h"
#include "tests/core/text/test_tokenizer_util.h"

using namespace moerun;

TEST_CASE("utf8: decode validates strictly") {
  uint32_t cp = 0;
  CHECK(utf8::decode("A", 0, cp) == 1);
  CHECK(cp == 0x41);
  CHECK(utf8::decode("\xc3\xa9", 0, cp) == 2);
  CHECK(cp == 0xE9);
  CHECK(utf8::decode("\xe2\x96\x81", 0, cp) == 3);
  CHECK(cp == 0x2581);
  CHECK(utf8::decode("\xf0\x9f\x98\x80", 0, cp) == 4);
  CHECK(cp == 0x1F600);
  CHECK(utf8::decode("\x80", 0, cp) == 0);              // lone continuation
  CHECK(utf8::decode("\xc0\xaf", 0, cp) == 0);          // overlong '/'
  CHECK(utf8::decode("\xed\xa0\x80", 0, cp) == 0);      // surrogate U+D800
  CHECK(utf8::decode("\xf4\x90\x80\x80", 0, cp) == 0);  // U+110000
  CHECK(utf8::decode("\xe2\x96", 0, cp) == 0);          // truncated
  CHECK(utf8::is_valid("h\xc3\xa9llo"));
  CHECK_FALSE(utf8::is_valid("h\xc3llo"));
}

TEST_CASE("utf8: incomplete_tail counts only bytes that can still complete") {
  CHECK(utf8::incomplete_tail("abc") == 0);
  CHECK(utf8::incomplete_tail("ab\xc3") == 1);
  CHECK(utf8::incomplete_tail("ab\xe2\x96") == 2);
  CHECK(utf8::incomplete_tail("\xf0\x9f\x98") == 3);
  CHECK(utf8::incomplete_tail("\xf0\x9f\x98\x80") == 0);  // complete
  CHECK(utf8::incomplete_tail("a\xff") == 0);              // never valid
  CHECK(utf8::incomplete_tail("a\x80") == 0);              // stray continuation
  CHECK(utf8::incomplete_tail("\xe0\x80") == 0);           // overlong prefix
}

TEST_CASE("unicode: GPT-2 byte mapping is a bijection onto 256 code points") {
  CHECK(byte_to_unicode('A') == "A");
  CHECK(byte_to_unicode(' ') == "\xc4\xa0");   // U+0120 'Ġ'
  CHECK(byte_to_unicode('\n') == "\xc4\x8a");  // U+010A 'Ċ'
  CHECK(byte_to_unicode(0) == "\xc4\x80");     // U+0100
  for (int b = 0; b < 256; ++b) {
    std::string back;
    CHECK(byte_decode_append(byte_to_unicode(static_cast<uint8_t>(b)), back));
    CHECK(back == std::string(1, static_cast<char>(b)));
  }
  CHECK(unicode_to_byte(0x144) == -1);
  CHECK(unicode_to_byte(0x20) == -1);  // space itself stands for nothing
}

TEST_CASE("StreamDecoder holds incomplete UTF-8 until it is complete") {
  auto f = GgufFile::open((testdata_dir() / "vocab" / "ggml-vocab-llama-spm.gguf").string());
  auto tok = Tokenizer::from_gguf(*f);
  // In this vocabulary <0xXX> is id 3 + XX. "é" = C3 A9, "😀" = F0 9F 98 80.
  StreamDecoder s(*tok);
  CHECK(s.push(3 + 0xC3) == "");
  CHECK(s.push(3 + 0xA9) == "\xc3\xa9");
  CHECK(s.push(3 + 0xF0) == "");
  CHECK(s.push(3 + 0x9F) == "");
  CHECK(s.push(3 + 0x98) == "");
  CHECK(s.push(3 + 0x80) == "\xf0\x9f\x98\x80");
  CHECK(s.push(3 + 0xFF) == "\xff");  // can never become valid: passed through
  CHECK(s.push(3 + 0xE2) == "");
  CHECK(s.flush() == "\xe2");  // end of stream: whatever is held
  CHECK(s.flush() == "");
  CHECK(s.push(1) == "");  // BOS prints nothing

  // Streaming a whole encoding gives the same text as decode.
  const std::string text = "Grüße, 世界! \xf0\x9f\x98\x80 done";
  const auto ids = tok->encode(text, true, false);
  StreamDecoder t(*tok);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string piece = t.push(id);
    CHECK(utf8::is_valid(piece));
    streamed += piece;
  }
  streamed += t.flush();
  CHECK(streamed == tok->decode(ids));
  CHECK(tok->detokenize(ids) == text);
}
