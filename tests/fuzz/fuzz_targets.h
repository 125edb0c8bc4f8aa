// The fuzz targets' entry functions. Each takes one input of arbitrary bytes,
// runs it through a part of moerun that reads untrusted data, and returns 0.
// A moerun::Error is the expected outcome for bad input and is swallowed;
// anything else (a crash, a sanitizer report, another exception, a broken
// invariant reported through finding()) is a bug. libFuzzer calls them from
// fuzzer_main.cpp; the unit tests replay the committed regression inputs
// through the same functions (test_fuzz_regressions.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"

namespace moerun::fuzz {

// GGUF reader, metadata getters, vocabulary and model loading.
// Input: 4 bytes little-endian `pad_kib`, then a GGUF image. The image is
// followed by pad_kib KiB of zeros (at most 4 MiB) so that seeds can stand
// for whole models by their header alone: mutations then land on the
// structure instead of megabytes of weights.
int gguf_input(const uint8_t* data, size_t size);

// Tokenizers on arbitrary text. Input: 1 flag byte (bit 0: add BOS/EOS,
// bit 1: parse special-token text), then the text.
int tokenize_spm_input(const uint8_t* data, size_t size);  // Llama 2 SentencePiece vocabulary
int tokenize_bpe_input(const uint8_t* data, size_t size);  // Llama 3 byte-level BPE vocabulary

// Jinja chat templates. Input: 1 flag byte (bit 0: add_generation_prompt,
// bit 1: set bos/eos tokens, bit 2: enable_thinking=false), then the template
// source, then NUL-separated fields read as role, content, role, content...
int chat_template_input(const uint8_t* data, size_t size);

// `moerun batch` request lines. Input: the text of a JSON Lines file.
int batch_jsonl_input(const uint8_t* data, size_t size);

// Where the shared test data lives: $MOERUN_TESTDATA, else next to the source tree.
std::string testdata_dir();

// Reports a broken invariant and aborts (libFuzzer saves the input).
[[noreturn]] void finding(const std::string& what);

// The CLI prints an Error as one line: a message that is empty or holds a
// newline is a finding.
void expect_one_line(const Error& e);

}  // namespace moerun::fuzz
