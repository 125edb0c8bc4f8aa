// Loads a Hugging Face tokenizer.json (+ optional tokenizer_config.json) into
// a Vocab, the way llama.cpp's convert_hf_to_gguf.py would write it to GGUF.
// Owns: reading the BPE model (vocab, merges as "a b" or ["a", "b"]), added
// tokens (special or <|..|>-looking -> control, others -> user-defined),
// the pre-tokenizer (Sequence of Split/ByteLevel/Digits, used as written),
// and BOS/EOS from the config. Does not own: tokenization itself.
// Supported: byte-level BPE (model.type "BPE" with a ByteLevel
// pre-tokenizer or decoder). Normalizers are ignored, as llama.cpp does for
// byte-level BPE.
#pragma once

#include <string>

#include "core/text/vocab.h"

namespace moerun {

// Throws moerun::Error naming the file and what is unsupported or malformed.
// `config_path` may be empty.
Vocab vocab_from_tokenizer_json(const std::string& tokenizer_path, const std::string& config_path = "");

}  // namespace moerun
