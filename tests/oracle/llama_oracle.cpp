// moerun-oracle: llama.cpp's answer for a GGUF file and a list of tokens (DESIGN.md §7).
//
// Built by tests/oracle/setup.sh against the prebuilt llama.cpp that node-llama-cpp ships
// on npm; never part of moerun itself. Usage:
//
//   moerun-oracle -m MODEL (--tokens "ids" | --tokens-file F) [-o OUT.f32] [-n N] [-c CTX] [-t T]
//       evaluates the tokens in one batch; writes float32 logits, row-major, one row of
//       n_vocab per position (the same layout as `moerun logits`); prints
//       "n_tokens N n_vocab V"; with -n N > 0 then continues greedily (argmax, EOS not
//       special) and prints "greedy: id id ...".
//   moerun-oracle -m MODEL (--tokenize TEXT | --tokenize-file F) [--bos] [--special]
//       prints llama.cpp's token ids, space-separated. --bos lets llama.cpp add the BOS/EOS
//       the model asks for (add_special); --special parses control-token text.
//   moerun-oracle -m MODEL --detokenize "ids"
//       prints the text of the ids (no newline added), special tokens not rendered.
//   moerun-oracle -m MODEL --quantize OUT.gguf TYPE
//       llama.cpp's own quantizer, "pure" (every weight matrix TYPE, except where a row
//       length does not fit the block and llama.cpp falls back): reference-made files for
//       testing moerun's readers and kernels apart from moerun's quantizer.
//       TYPE: f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k.
//
// Options: -t THREADS (default 1); --repack allows llama.cpp's repacked CPU weight layouts (off by default: the
// plain ggml kernels are the reference for each block format); -v shows llama.cpp's log.
// Exit status: 0 ok, 1 llama.cpp failed, 2 bad usage or input.

#include "ggml-backend.h"
#include "llama.h"

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <dlfcn.h>
#include <libgen.h>

namespace {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RunError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool g_verbose = false;

// llama.cpp logs every load step to stderr; tests read our stderr on failure, so keep only
// what explains a failure unless -v asks for everything.
void log_callback(ggml_log_level level, const char* text, void*) {
  if (g_verbose || level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

std::vector<llama_token> parse_ids(std::string_view s) {
  std::vector<llama_token> ids;
  size_t i = 0;
  while (true) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == ','))
      ++i;
    if (i == s.size()) break;
    llama_token v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v);
    if (ec != std::errc() || v < 0) throw UsageError("bad token id near '" + std::string(s.substr(i, 16)) + "'");
    ids.push_back(v);
    i = static_cast<size_t>(p - s.data());
  }
  return ids;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw UsageError("cannot open " + path);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

int parse_int(const std::string& opt, const std::string& v) {
  int out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size()) throw UsageError(opt + " expects an integer, got '" + v + "'");
  return out;
}

// The CPU backends are separate libraries (one per ISA level) loaded at run time. The oracle
// runs the portable one (libggml-cpu-x64.so: ggml's generic C kernels, no SIMD), which
// computes the same bits on every x86-64 machine; each AVX variant sums in its own lane
// order, and a tiny MoE turns a last-bit difference into a different expert or int8 level.
// MOERUN_ORACLE_CPU names another variant (haswell, zen4, ...) or "best" (ggml's own pick).
// They sit next to libllama, so ask the loader where that is rather than trusting the
// working directory.
void load_backends() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&llama_backend_init), &info) == 0 || info.dli_fname == nullptr)
    throw RunError("cannot locate libllama to find the CPU backends");
  std::string lib = info.dli_fname;
  std::string dir = dirname(lib.data());
  const char* env = std::getenv("MOERUN_ORACLE_CPU");
  const std::string variant = env != nullptr && *env != '\0' ? env : "x64";
  if (variant != "best") {
    std::string path = dir + "/libggml-cpu-" + variant + ".so";
    if (ggml_backend_load(path.c_str()) == nullptr) throw RunError("cannot load the CPU backend " + path);
  } else {
    ggml_backend_load_all_from_path(dir.c_str());
  }
  if (ggml_backend_dev_count() == 0) throw RunError("no ggml backend could be loaded from " + dir);
  if (g_verbose) {
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
      ggml_backend_dev_t dev = ggml_backend_dev_get(i);
      std::fprintf(stderr, "oracle: device %s (%s)\n", ggml_backend_dev_name(dev),
                   ggml_backend_dev_description(dev));
    }
  }
}

struct Options {
  std::string model;
  std::optional<std::string> tokens;  // ids as text
  std::optional<std::string> tokenize_text;
  std::optional<std::string> detokenize;
  std::optional<std::string> quantize_out;
  std::string quantize_type;
  std::string out;
  int n_greedy = 0;
  int n_ctx = 0;
  int n_threads = 0;
  bool bos = false;
  bool special = false;
  bool repack = false;
};

const char* kUsage =
    "usage: moerun-oracle -m MODEL (--tokens \"ids\" | --tokens-file F) [-o OUT.f32] [-n N] [-c CTX] [-t T]\n"
    "       moerun-oracle -m MODEL (--tokenize TEXT | --tokenize-file F) [--bos] [--special]\n"
    "       moerun-oracle -m MODEL --detokenize \"ids\"\n"
    "       moerun-oracle -m MODEL --quantize OUT.gguf TYPE\n"
    "       common: [--repack] [-v]\n";

Options parse_args(int argc, char** argv) {
  Options o;
  auto value = [&](int& i) -> std::string {
    if (i + 1 >= argc) throw UsageError(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-m" || a == "--model") o.model = value(i);
    else if (a == "--tokens") o.tokens = value(i);
    else if (a == "--tokens-file") o.tokens = read_file(value(i));
    else if (a == "--tokenize") o.tokenize_text = value(i);
    else if (a == "--tokenize-file") o.tokenize_text = read_file(value(i));
    else if (a == "--detokenize") o.detokenize = value(i);
    else if (a == "--quantize") { o.quantize_out = value(i); o.quantize_type = value(i); }
    else if (a == "-o") o.out = value(i);
    else if (a == "-n") o.n_greedy = parse_int(a, value(i));
    else if (a == "-c") o.n_ctx = parse_int(a, value(i));
    else if (a == "-t") o.n_threads = parse_int(a, value(i));
    else if (a == "--bos") o.bos = true;
    else if (a == "--special") o.special = true;
    else if (a == "--repack") o.repack = true;
    else if (a == "-v") g_verbose = true;
    else if (a == "-h" || a == "--help") { std::fputs(kUsage, stdout); std::exit(0); }
    else throw UsageError("unknown argument '" + a + "'");
  }
  if (o.model.empty()) throw UsageError("-m MODEL is required");
  int modes = int(o.tokens.has_value()) + int(o.tokenize_text.has_value()) + int(o.detokenize.has_value()) +
              int(o.quantize_out.has_value());
  if (modes != 1)
    throw UsageError("give exactly one of --tokens/--tokens-file, --tokenize/--tokenize-file, --detokenize, --quantize");
  if (o.n_greedy < 0 || o.n_ctx < 0 || o.n_threads < 0) throw UsageError("-n, -c and -t must be >= 0");
  return o;
}

struct ModelDeleter { void operator()(llama_model* m) const { llama_model_free(m); } };
struct ContextDeleter { void operator()(llama_context* c) const { llama_free(c); } };
using ModelPtr = std::unique_ptr<llama_model, ModelDeleter>;
using ContextPtr = std::unique_ptr<llama_context, ContextDeleter>;

ModelPtr load_model(const Options& o, bool vocab_only) {
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  mp.vocab_only = vocab_only;
  // Repacked layouts (e.g. Q4_0 -> 8x8 interleaved) run different kernels with a different
  // summation order; the reference for a block format is the plain ggml kernel.
  mp.use_extra_bufts = o.repack;
  ModelPtr m(llama_model_load_from_file(o.model.c_str(), mp));
  if (!m) throw RunError("llama.cpp could not load " + o.model);
  return m;
}

int cmd_tokenize(const Options& o) {
  ModelPtr model = load_model(o, true);
  const llama_vocab* vocab = llama_model_get_vocab(model.get());
  const std::string& text = *o.tokenize_text;
  if (text.size() > size_t(std::numeric_limits<int32_t>::max() / 2)) throw UsageError("text too long");
  std::vector<llama_token> ids(text.size() + 8);
  int32_t n = llama_tokenize(vocab, text.data(), int32_t(text.size()), ids.data(), int32_t(ids.size()), o.bos,
                             o.special);
  if (n < 0) {  // a negative count is the size it needed
    ids.resize(size_t(-n));
    n = llama_tokenize(vocab, text.data(), int32_t(text.size()), ids.data(), int32_t(ids.size()), o.bos, o.special);
  }
  if (n < 0) throw RunError("llama_tokenize failed");
  for (int32_t i = 0; i < n; ++i) std::printf(i ? " %d" : "%d", ids[size_t(i)]);
  std::printf("\n");
  return 0;
}

void check_ids(const std::vector<llama_token>& ids, const llama_vocab* vocab) {
  const int32_t n_vocab = llama_vocab_n_tokens(vocab);
  for (llama_token t : ids)
    if (t >= n_vocab) throw UsageError("token id " + std::to_string(t) + " >= n_vocab " + std::to_string(n_vocab));
}

int cmd_detokenize(const Options& o) {
  ModelPtr model = load_model(o, true);
  const llama_vocab* vocab = llama_model_get_vocab(model.get());
  std::vector<llama_token> ids = parse_ids(*o.detokenize);
  check_ids(ids, vocab);
  std::string text(ids.size() * 16 + 16, '\0');
  int32_t n = llama_detokenize(vocab, ids.data(), int32_t(ids.size()), text.data(), int32_t(text.size()), false, false);
  if (n < 0) {
    text.resize(size_t(-n));
    n = llama_detokenize(vocab, ids.data(), int32_t(ids.size()), text.data(), int32_t(text.size()), false, false);
  }
  if (n < 0) throw RunError("llama_detokenize failed");
  std::fwrite(text.data(), 1, size_t(n), stdout);
  return 0;
}

int cmd_quantize(const Options& o) {
  // With pure = true the *_S file types mean "this block type everywhere"; the mixes
  // (Q4_K_M etc.) would put Q6_K on some tensors and test two formats at once.
  static const std::pair<const char*, llama_ftype> kTypes[] = {
      {"f32", LLAMA_FTYPE_ALL_F32},        {"f16", LLAMA_FTYPE_MOSTLY_F16},     {"bf16", LLAMA_FTYPE_MOSTLY_BF16},
      {"q4_0", LLAMA_FTYPE_MOSTLY_Q4_0},   {"q4_1", LLAMA_FTYPE_MOSTLY_Q4_1},   {"q5_0", LLAMA_FTYPE_MOSTLY_Q5_0},
      {"q5_1", LLAMA_FTYPE_MOSTLY_Q5_1},   {"q8_0", LLAMA_FTYPE_MOSTLY_Q8_0},   {"q2_k", LLAMA_FTYPE_MOSTLY_Q2_K},
      {"q3_k", LLAMA_FTYPE_MOSTLY_Q3_K_S}, {"q4_k", LLAMA_FTYPE_MOSTLY_Q4_K_S}, {"q5_k", LLAMA_FTYPE_MOSTLY_Q5_K_S},
      {"q6_k", LLAMA_FTYPE_MOSTLY_Q6_K},
  };
  std::string t = o.quantize_type;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  const auto* it = std::find_if(std::begin(kTypes), std::end(kTypes), [&](const auto& e) { return t == e.first; });
  if (it == std::end(kTypes)) throw UsageError("unknown quantization type '" + o.quantize_type + "'");
  llama_model_quantize_params qp = llama_model_quantize_default_params();
  qp.ftype = it->second;
  qp.pure = true;
  qp.nthread = o.n_threads;
  if (llama_model_quantize(o.model.c_str(), o.quantize_out->c_str(), &qp) != 0)
    throw RunError("llama.cpp could not quantize " + o.model + " to " + t);
  return 0;
}

// Fills batch with tokens [0, n) at positions pos0.., sequence 0, logits for every row.
void fill_batch(llama_batch& batch, const llama_token* tokens, int n, int pos0) {
  batch.n_tokens = n;
  for (int i = 0; i < n; ++i) {
    batch.token[i] = tokens[i];
    batch.pos[i] = pos0 + i;
    batch.n_seq_id[i] = 1;
    batch.seq_id[i][0] = 0;
    batch.logits[i] = 1;
  }
}

llama_token argmax(const float* row, int n) {
  // First maximum: the same tie rule as moerun's greedy sampler is expected to use.
  return llama_token(std::max_element(row, row + n) - row);
}

int cmd_logits(const Options& o) {
  std::vector<llama_token> ids = parse_ids(*o.tokens);
  if (ids.empty()) throw UsageError("no tokens given");
  ModelPtr model = load_model(o, false);
  const llama_vocab* vocab = llama_model_get_vocab(model.get());
  check_ids(ids, vocab);
  const int n_vocab = llama_vocab_n_tokens(vocab);
  const int n_prompt = int(ids.size());
  const int n_needed = n_prompt + o.n_greedy;
  if (o.n_ctx != 0 && o.n_ctx < n_needed)
    throw UsageError("-c " + std::to_string(o.n_ctx) + " is smaller than tokens + -n = " + std::to_string(n_needed));

  llama_context_params cp = llama_context_default_params();
  // Exactly what the run needs: a larger context than the model was trained for only draws
  // a warning, and RoPE is not rescaled unless the file asks for it.
  cp.n_ctx = uint32_t(o.n_ctx ? o.n_ctx : n_needed);
  // The whole prompt must go through one ubatch so every position's logits come from a
  // single graph evaluation, as moerun's `logits` does it.
  cp.n_batch = cp.n_ctx;
  cp.n_ubatch = cp.n_ctx;
  cp.n_seq_max = 1;
  // One thread unless told: the test models are tiny, and ggml's spinning worker threads
  // stall badly on a shared, busy machine (DEPENDENCIES.md, "OpenMP on a shared 2-core
  // machine"). Results do not depend on it (test_oracle_self.sh checks 1 vs 2 threads).
  int threads = o.n_threads ? o.n_threads : 1;
  cp.n_threads = threads;
  cp.n_threads_batch = threads;
  // DESIGN §7: flash attention and an F16 cache add ~1e-3 noise, enough to flip MoE routing.
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.type_k = GGML_TYPE_F32;
  cp.type_v = GGML_TYPE_F32;
  cp.no_perf = true;
  // MOERUN_ORACLE_DUMP=DIR: every F32 tensor the graph computes, as DIR/<name>.f32 (raw
  // floats, ggml order), for finding the op where two engines part.
  if (const char* dump = std::getenv("MOERUN_ORACLE_DUMP"); dump != nullptr && *dump != '\0') {
    static std::string dump_dir;
    dump_dir = dump;
    cp.cb_eval = [](ggml_tensor* t, bool ask, void*) -> bool {
      if (ask) return true;
      if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t)) return true;
      std::string name = t->name;
      for (char& c : name) {
        if (c == '/' || c == ' ') c = '_';
      }
      std::ofstream f(dump_dir + "/" + name + ".f32", std::ios::binary);
      f.write(static_cast<const char*>(t->data), static_cast<std::streamsize>(ggml_nbytes(t)));
      return true;
    };
  }
  cp.embeddings = false;
  ContextPtr ctx(llama_init_from_model(model.get(), cp));
  if (!ctx) throw RunError("llama.cpp could not create a context");

  llama_batch batch = llama_batch_init(n_prompt, 0, 1);
  struct BatchFree {
    llama_batch& b;
    ~BatchFree() { llama_batch_free(b); }
  } batch_free{batch};

  fill_batch(batch, ids.data(), n_prompt, 0);
  if (int rc = llama_decode(ctx.get(), batch); rc != 0)
    throw RunError("llama_decode of the prompt failed (" + std::to_string(rc) + ")");

  std::vector<float> rows(size_t(n_prompt) * size_t(n_vocab));
  for (int i = 0; i < n_prompt; ++i) {
    const float* row = llama_get_logits_ith(ctx.get(), i);
    if (!row) throw RunError("no logits for position " + std::to_string(i));
    std::copy(row, row + n_vocab, rows.begin() + ptrdiff_t(i) * n_vocab);
  }
  if (!o.out.empty()) {
    FILE* f = std::fopen(o.out.c_str(), "wb");
    if (!f) throw RunError("cannot write " + o.out + ": " + std::strerror(errno));
    size_t w = std::fwrite(rows.data(), sizeof(float), rows.size(), f);
    if (std::fclose(f) != 0 || w != rows.size()) throw RunError("short write to " + o.out);
  }
  std::printf("n_tokens %d n_vocab %d\n", n_prompt, n_vocab);

  if (o.n_greedy > 0) {
    // Greedy: take the argmax after the last prompt token, feed it back one token at a time.
    // EOS is not a stop: the comparison is about the arithmetic, not about when text ends.
    std::vector<llama_token> out;
    llama_token next = argmax(rows.data() + size_t(n_prompt - 1) * size_t(n_vocab), n_vocab);
    for (int k = 0; k < o.n_greedy; ++k) {
      out.push_back(next);
      if (k + 1 == o.n_greedy) break;
      fill_batch(batch, &next, 1, n_prompt + k);
      if (int rc = llama_decode(ctx.get(), batch); rc != 0)
        throw RunError("llama_decode at step " + std::to_string(k) + " failed (" + std::to_string(rc) + ")");
      const float* row = llama_get_logits_ith(ctx.get(), 0);
      if (!row) throw RunError("no logits at step " + std::to_string(k));
      next = argmax(row, n_vocab);
    }
    std::printf("greedy:");
    for (llama_token t : out) std::printf(" %d", t);
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options o = parse_args(argc, argv);
    llama_log_set(log_callback, nullptr);
    load_backends();
    llama_backend_init();
    int rc = o.tokens          ? cmd_logits(o)
             : o.tokenize_text ? cmd_tokenize(o)
             : o.quantize_out  ? cmd_quantize(o)
                               : cmd_detokenize(o);
    llama_backend_free();
    if (std::fflush(stdout) != 0) return 1;
    return rc;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "moerun-oracle: %s\n%s", e.what(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moerun-oracle: %s\n", e.what());
    return 1;
  }
}
