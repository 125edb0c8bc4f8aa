// Fuzz targets: arbitrary bytes through a SentencePiece and a byte-level BPE
// tokenizer, checking the promises tokenizer.h makes on any input: ids stay
// inside the vocabulary, decode(encode(x)) gives x back, and streaming the
// ids through StreamDecoder prints exactly what decode prints.
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/gguf/gguf.h"
#include "core/text/tokenizer.h"
#include "tests/fuzz/fuzz_targets.h"

namespace moerun::fuzz {

namespace {

// $MOERUN_FUZZ_VOCAB replaces the default vocabulary (to fuzz another one).
std::unique_ptr<Tokenizer> load(const char* default_vocab) {
  const char* env = std::getenv("MOERUN_FUZZ_VOCAB");
  const std::string path = env != nullptr && *env != '\0' ? std::string(env) : testdata_dir() + "/vocab/" + default_vocab;
  auto f = GgufFile::open(path);
  return Tokenizer::from_gguf(*f);
}

std::string hex(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

void check(const Tokenizer& tok, const uint8_t* data, size_t size) {
  if (size == 0) return;
  const bool add_special = data[0] & 1;
  const bool parse_special = data[0] & 2;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::vector<int32_t> ids = tok.encode(text, add_special, parse_special);
  for (int32_t id : ids) {
    if (id < 0 || id >= tok.n_vocab()) finding("encode gave id " + std::to_string(id) + " outside the vocabulary");
  }
  // Plain text (no BOS/EOS, special-token text left as text) must survive the
  // round trip byte for byte. Except U+2581 in a SentencePiece vocabulary: it
  // is SentencePiece's own escape for a space and decodes as one (so it does
  // in llama.cpp and Hugging Face).
  const bool marks_spaces = tok.vocab().type == VocabType::kSpm || tok.vocab().escape_whitespace;
  const bool has_space_escape = marks_spaces && text.find("\xe2\x96\x81") != std::string_view::npos;
  if (!add_special && !parse_special && !has_space_escape) {
    const std::string back = tok.detokenize(ids);
    if (back != text) finding("detokenize(encode(x)) != x: x = " + hex(text) + ", got " + hex(back));
  }
  std::string streamed;
  StreamDecoder stream(tok, true);
  for (int32_t id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  const std::string whole = tok.decode(ids, true);
  if (streamed != whole) finding("streamed decode != decode: " + hex(streamed) + " vs " + hex(whole));
}

}  // namespace

int tokenize_spm_input(const uint8_t* data, size_t size) {
  static const std::unique_ptr<Tokenizer> tok = load("ggml-vocab-llama-spm.gguf");
  check(*tok, data, size);
  return 0;
}

int tokenize_bpe_input(const uint8_t* data, size_t size) {
  static const std::unique_ptr<Tokenizer> tok = load("ggml-vocab-llama-bpe.gguf");
  check(*tok, data, size);
  return 0;
}

}  // namespace moerun::fuzz
