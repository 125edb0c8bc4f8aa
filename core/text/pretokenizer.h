// Pre-tokenizers for byte-level BPE: the regex split rules selected by
// tokenizer.ggml.pre, compiled once with PCRE2 (UTF + UCP + JIT).
// Owns: the table of every pre-tokenizer name llama.cpp recognises (and the
// per-family policy flags that go with it), and splitting text into words.
// Does not own: byte->unicode mapping or merges (tokenizer_bpe), special
// tokens (tokenizer).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moerun {

// One pre-tokenizer family. The regexes run in order like a Hugging Face
// `Sequence` of `Split(behavior = Isolated)`: each one splits every piece the
// previous one produced; matches and the gaps between them both become pieces.
struct PreTokenizerSpec {
  const char* family;                // llama.cpp's LLAMA_VOCAB_PRE_TYPE_* name, lower case
  std::vector<std::string> regexes;  // empty: the whole text is one word
  bool ignore_merges = false;        // a word that is itself a token skips merging
  bool add_bos = false;              // llama.cpp forces add_bos for this family
  bool no_bos = false;               // llama.cpp clears the BOS id for this family
  bool escape_whitespace = false;    // " " -> U+2581 before merging (SPM-style BPE)
  bool byte_encode = true;           // GPT-2 byte->unicode mapping of each word
};

// The spec for a tokenizer.ggml.pre value ("" and "default" give the default
// family). Throws moerun::Error for a name llama.cpp does not know either.
const PreTokenizerSpec& pre_tokenizer_spec(std::string_view pre);

// Every pre-tokenizer name accepted above, for tests and `moerun info`.
std::vector<std::string> pre_tokenizer_names();

// A word: a byte range [begin, end) of the input text.
struct TextSpan {
  size_t begin = 0;
  size_t end = 0;
};

class PreTokenizer {
 public:
  // Compiles the spec's regexes. Throws moerun::Error if PCRE2 rejects one.
  explicit PreTokenizer(const PreTokenizerSpec& spec);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Splits `text` into consecutive spans covering all of it (no empty spans).
  // Invalid UTF-8 bytes are matched as if they were U+FFFD (a symbol), so
  // they split like punctuation but their own bytes stay in the spans.
  // Thread-safe.
  std::vector<TextSpan> split(std::string_view text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moerun
