// Tokenizer: text <-> token ids for a model's vocabulary, as llama.cpp does it.
// Owns: the public interface the engine and CLI use; splitting special-token
// text out before encoding (parse_special), BOS/EOS, the SentencePiece space
// prefix, token -> piece bytes, decoding, and the streaming detokenizer.
// Does not own: the vocabulary keys (vocab), the merge algorithms
// (tokenizer_spm, tokenizer_bpe), the split regexes (pretokenizer).
//
// Behaviour on unusual input (documented, and each has a test):
// - Invalid UTF-8 / lone continuation bytes are never an error and are never
//   lost: SentencePiece vocabularies emit them as <0xXX> byte tokens;
//   byte-level BPE maps them like any other byte (the regexes see them as
//   U+FFFD, so they split like a symbol). llama.cpp instead replaces them with
//   U+FFFD in BPE; we keep the bytes so decode(encode(x)) == x. The one
//   exception: U+2581 ("▁") in text given to a SentencePiece vocabulary that
//   escapes whitespace decodes as a space, since that is SentencePiece's own
//   space marker (llama.cpp and Hugging Face do the same).
//   Exception: a byte-level vocabulary that types a byte's stand-in as a
//   user-defined token (DeepSeek LLM/Coder do for C0, C1, F5..FF, bytes
//   valid UTF-8 never contains) prints that token as the stand-in's text.
// - NUL and other control characters are ordinary characters.
// - Special-token text ("<|im_end|>", "</s>") is plain text unless
//   parse_special is true. User-defined tokens (type 4) are always matched,
//   as in llama.cpp and Hugging Face.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/text/vocab.h"

namespace moerun {

class GgufFile;
class SpmEncoder;
class BpeEncoder;

class Tokenizer {
 public:
  // Reads the vocabulary from the file's tokenizer.ggml.* keys. Throws
  // moerun::Error naming the file and key on bad or unsupported metadata.
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& f);
  // From an already filled and finalized vocabulary (tokenizer.json, tests).
  static std::unique_ptr<Tokenizer> from_vocab(Vocab vocab);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_special: prepend BOS / append EOS as the vocabulary says (add_bos(),
  // add_eos()). parse_special: text of control tokens becomes those tokens.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes a token stands for: SentencePiece U+2581 becomes a space, byte
  // tokens become their byte, byte-level BPE stand-ins become raw bytes. A
  // piece may be part of a UTF-8 character. Control and unknown tokens give
  // "" unless `special` (then their text). Out-of-range ids give "".
  std::string token_to_piece(int32_t id, bool special = false) const;

  // Concatenation of token_to_piece: what a stream of generated tokens prints.
  std::string decode(const std::vector<int32_t>& ids, bool special = false) const;

  // decode, and also drop the one leading space that encode's SentencePiece
  // space prefix added, so detokenize(encode(x, false, false)) == x.
  std::string detokenize(const std::vector<int32_t>& ids, bool special = false) const;

  int32_t bos_id() const { return vocab_.bos_id; }
  int32_t eos_id() const { return vocab_.eos_id; }
  int32_t eot_id() const { return vocab_.eot_id; }
  int32_t unk_id() const { return vocab_.unk_id; }
  int32_t n_vocab() const { return vocab_.n_tokens(); }
  bool add_bos() const { return vocab_.add_bos; }
  bool add_eos() const { return vocab_.add_eos; }
  bool is_eog(int32_t id) const { return id != kTokenNull && vocab_.eog_ids.count(id) > 0; }
  bool is_control(int32_t id) const;
  const Vocab& vocab() const { return vocab_; }

 private:
  explicit Tokenizer(Vocab vocab);

  Vocab vocab_;
  std::unique_ptr<SpmEncoder> spm_;
  std::unique_ptr<BpeEncoder> bpe_;
  std::vector<std::string> pieces_;  // token_to_piece(id, true) for every id
  // The special-token scan: one memchr pass per distinct first byte, then at
  // each hit one lookup per distinct token length with that first byte
  // (DeepSeek has ~2400 "[PAD...]" tokens but only a few lengths).
  // [0]: every special token (parse_special); [1]: user-defined only.
  StringIdMap special_index_[2];                     // text -> index in vocab_.special_tokens
  std::vector<std::vector<uint32_t>> special_lengths_[2];  // first byte -> distinct text lengths
};

// Streaming detokenizer: feed generated tokens one at a time and print what
// comes back. It never returns a broken UTF-8 character: bytes of a character
// that is still incomplete are held until the next token completes it. Bytes
// that can never become valid UTF-8 are passed through as they are.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool special = false) : tok_(tok), special_(special) {}
  // Returns the text that is complete after this token (possibly empty).
  std::string push(int32_t id);
  // Returns whatever is still held (an unfinished character) and resets.
  std::string flush();

 private:
  const Tokenizer& tok_;
  bool special_;
  std::string pending_;
};

}  // namespace moerun
