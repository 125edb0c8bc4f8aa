// Pieces every subcommand shares: model/load/thread options, the default
// model, token-list parsing, and writing output files atomically.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/compute/engine.h"
#include "core/gguf/gguf.h"

namespace moerun::cli {

struct ModelOptions {
  std::string model;  // empty: the shipped default
  bool mlock = false;
  bool no_mmap = false;
  int threads = 0;     // 0: OpenMP's default (one per core)
  int64_t ctx = 0;     // 0: trained context, capped
  int64_t sparse_attn = 0;  // block-sparse attention's key budget (0: dense)
  bool sparse_window_only = false;  // with it: sinks and window only (the baseline)
  bool flash_attn = false;  // online softmax at every length (not bit-exact with llama.cpp's non-flash path)
};

// -m, --mlock, --no-mmap, -t, and (with_ctx: commands that run the model) the
// context length (named ctx_flags), --flash-attn and --sparse-attn[=BUDGET].
void add_model_options(CLI::App* cmd, ModelOptions& o, bool with_ctx = true, const std::string& ctx_flags = "-c,--ctx");
// --flash-attn alone (for commands with their own context options).
void add_flash_attn_option(CLI::App* cmd, ModelOptions& o);
LoadMode load_mode(const ModelOptions& o);
// The model `-m` defaults to: $MOERUN_MODEL, else the one shipped in the repo.
std::string default_model_path();
std::string model_path(const ModelOptions& o);
// Applies -t to OpenMP.
void apply_threads(int threads);
// The engine for -m with the options above; a model that picks its own keys
// (DSA) ignores --sparse-attn, with a note on stderr.
Engine make_engine(const ModelOptions& o, int64_t n_seq = 1);

// "1 2 3" (spaces or commas) -> ids; throws a bad-input Error on junk.
std::vector<int32_t> parse_ids(const std::string& text);
std::string read_file(const std::string& path);
// Writes path.tmp then renames, so a failure leaves no partial file.
void write_file_atomic(const std::string& path, const void* data, size_t n);

}  // namespace moerun::cli
