#include "cli/common.h"

#include <omp.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cli/progress.h"
#include "core/compute/block_sparse.h"
#include "core/compute/thread_pool.h"
#include "core/error.h"

namespace moerun::cli {

void add_flash_attn_option(CLI::App* cmd, ModelOptions& o) {
  cmd->add_flag("--flash-attn", o.flash_attn,
                "flash attention: every row in 64-key tiles with an online softmax, as llama.cpp's flash "
                "attention (~2.4x cheaper prompt attention; logits agree with llama.cpp's to float rounding). "
                "Without it, rows of up to 1024 keys follow llama.cpp's non-flash order to the last bit");
}

void add_model_options(CLI::App* cmd, ModelOptions& o, bool with_ctx, const std::string& ctx_flags) {
  cmd->add_option("-m,--model", o.model, "GGUF model file (default: the small model shipped with moerun)");
  cmd->add_flag("--mlock", o.mlock, "map the model and lock its pages in RAM");
  cmd->add_flag("--no-mmap", o.no_mmap, "read the model into memory instead of mapping it");
  cmd->add_option("-t,--threads", o.threads, "threads (default: one per core)")->check(CLI::NonNegativeNumber);
  if (with_ctx) {
    cmd->add_option(ctx_flags, o.ctx, "context length in tokens (default: the model's, at most 4096)")
        ->check(CLI::NonNegativeNumber);
    // 2048 keys per query: DeepSeek-V3.2's trained top_k.
    cmd->add_flag("--sparse-attn{2048}", o.sparse_attn,
                  "block-sparse attention: a query past BUDGET keys (default 2048) attends to the first 4, "
                  "the last BUDGET/8 and the 16-token blocks whose key bounds score best, BUDGET in all")
        ->check(CLI::Range(int64_t{64}, int64_t{1} << 30));
    add_flash_attn_option(cmd, o);
    cmd->add_flag("--sparse-window-only", o.sparse_window_only,
                  "with --sparse-attn: only the first 4 keys and the latest BUDGET-4 (the baseline the block "
                  "choice is measured against)");
  }
}

LoadMode load_mode(const ModelOptions& o) {
  if (o.mlock && o.no_mmap) fail("--mlock and --no-mmap cannot be combined");
  if (o.mlock) return LoadMode::kMlock;
  if (o.no_mmap) return LoadMode::kNoMmap;
  return LoadMode::kMmap;
}

std::string default_model_path() {
  if (const char* env = std::getenv("MOERUN_MODEL"); env != nullptr && *env != '\0') return env;
  // Next to the binary's source tree (a build of a clone), else relative to
  // the binary (an installed tree with models/data beside bin/).
  const std::string built_in = MOERUN_DEFAULT_MODEL;
  if (access(built_in.c_str(), R_OK) == 0) return built_in;
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    std::string dir(exe);
    dir = dir.substr(0, dir.rfind('/'));
    const std::string rel = dir + "/../" MOERUN_DEFAULT_MODEL_REL;
    if (access(rel.c_str(), R_OK) == 0) return rel;
  }
  return built_in;
}

std::string model_path(const ModelOptions& o) { return o.model.empty() ? default_model_path() : o.model; }

void apply_threads(int threads) {
  if (threads <= 0) return;
  set_threads(threads);         // the forward pass
  omp_set_num_threads(threads);  // quantize and synth
}

Engine make_engine(const ModelOptions& o, int64_t n_seq) {
  apply_threads(o.threads);
  EngineOptions eo;
  eo.model_path = model_path(o);
  eo.load_mode = load_mode(o);
  eo.n_ctx = o.ctx;
  eo.n_seq = n_seq;
  if (o.sparse_window_only && o.sparse_attn == 0) fail("--sparse-window-only needs --sparse-attn");
  if (o.sparse_attn > 0) eo.sparse = block_sparse_config(o.sparse_attn, !o.sparse_window_only);
  eo.flash_attn = o.flash_attn;
  // A bar only for a load that takes a while (a large file read or locked).
  Progress bar("loading", 0, "MiB");
  bar.show_after(std::chrono::seconds(1));
  eo.load_progress = [&bar](uint64_t done, uint64_t total) {
    bar.set_total(static_cast<int64_t>(total >> 20));
    bar.update(static_cast<int64_t>(done >> 20));
  };
  Engine e(eo);
  bar.finish();
  if (o.sparse_attn > 0 && e.model().info().attention_top_k > 0) {
    std::fprintf(stderr, "note: this model picks its own keys (DSA, top_k %lld); --sparse-attn is ignored\n",
                 static_cast<long long>(e.model().info().attention_top_k));
  }
  return e;
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == ',' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r') {
      ++i;
      continue;
    }
    size_t j = i;
    if (text[j] == '-') ++j;
    while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
    if (j == i || (j == i + 1 && text[i] == '-') ||
        (j < text.size() && text[j] != ' ' && text[j] != ',' && text[j] != '\t' && text[j] != '\n' && text[j] != '\r')) {
      fail("token list: '" + text.substr(i, 20) + "' is not a token id");
    }
    const long long v = std::strtoll(text.c_str() + i, nullptr, 10);
    if (v < 0 || v > INT32_MAX) fail("token list: id " + text.substr(i, j - i) + " is out of range");
    ids.push_back(static_cast<int32_t>(v));
    i = j;
  }
  return ids;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file_atomic(const std::string& path, const void* data, size_t n) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) fail(tmp + ": cannot create: " + std::strerror(errno));
  const bool ok = std::fwrite(data, 1, n, f) == n;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string e = std::strerror(errno);
    std::remove(tmp.c_str());
    fail_runtime(path + ": write failed: " + e);
  }
}

}  // namespace moerun::cli
