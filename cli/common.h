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
};

// -m, --mlock, --no-mmap, -t, and (with_ctx) -c.
void add_model_options(CLI::App* cmd, ModelOptions& o, bool with_ctx = true);
LoadMode load_mode(const ModelOptions& o);
// The model `-m` defaults to: $MOERUN_MODEL, else the one shipped in the repo.
std::string default_model_path();
std::string model_path(const ModelOptions& o);
// Applies -t to OpenMP.
void apply_threads(int threads);
Engine make_engine(const ModelOptions& o, int64_t n_seq = 1);

// "1 2 3" (spaces or commas) -> ids; throws a bad-input Error on junk.
std::vector<int32_t> parse_ids(const std::string& text);
std::string read_file(const std::string& path);
// Writes path.tmp then renames, so a failure leaves no partial file.
void write_file_atomic(const std::string& path, const void* data, size_t n);

}  // namespace moerun::cli
