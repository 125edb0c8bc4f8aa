// Tokenizer throughput on text/tinyshakespeare.txt (1.1 MB), single thread,
// for every vocabulary in testdata/vocab/ and the DeepSeek-V3 tokenizer.json.
// Validates first (the ids decode back to the text), then reports MB/s of
// input and tokens/s for encode, and MB/s for decode. Goal (issue 3):
// >= 10 MB/s for the BPE vocabularies. Usage: bench_tokenizer [reps]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/gguf/gguf.h"
#include "core/text/tokenizer.h"
#include "core/text/tokenizer_json.h"

namespace fs = std::filesystem;
using namespace moerun;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool bench(const std::string& name, const Tokenizer& tok, const std::string& text, int reps) {
  std::vector<int32_t> ids = tok.encode(text, false, false);
  if (tok.detokenize(ids) != text) {
    std::printf("%-34s FAILED: decode(encode(text)) != text\n", name.c_str());
    return false;
  }
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    ids = tok.encode(text, false, false);
    best = std::min(best, seconds_since(t0));
  }
  double best_dec = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string back = tok.decode(ids);
    best_dec = std::min(best_dec, seconds_since(t0));
    if (back.empty()) return false;
  }
  const double mb = text.size() / 1e6;
  std::printf("%-34s %-4s %8zu tokens  encode %7.1f MB/s %6.2f Mtok/s  decode %7.1f MB/s\n", name.c_str(),
              tok.vocab().type == VocabType::kSpm ? "spm" : "bpe", ids.size(), mb / best, ids.size() / best / 1e6,
              mb / best_dec);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  const fs::path data = fs::path(MOERUN_SOURCE_DIR) / ".." / "shared" / "testdata";
  std::ifstream f(data / "text" / "tinyshakespeare.txt", std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "bench_tokenizer: cannot open %s\n", (data / "text" / "tinyshakespeare.txt").c_str());
    return 2;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  std::printf("bench_tokenizer: tinyshakespeare.txt, %zu bytes, best of %d, 1 thread\n", text.size(), reps);
  bool ok = true;
  try {
    std::vector<fs::path> ggufs;
    for (const auto& e : fs::directory_iterator(data / "vocab")) {
      if (e.path().extension() == ".gguf") ggufs.push_back(e.path());
    }
    std::sort(ggufs.begin(), ggufs.end());
    for (const auto& g : ggufs) {
      auto file = GgufFile::open(g.string());
      auto tok = Tokenizer::from_gguf(*file);
      ok &= bench(g.filename().string(), *tok, text, reps);
    }
    const fs::path ds = data / "tokenizers" / "deepseek_v3";
    auto tok = Tokenizer::from_vocab(
        vocab_from_tokenizer_json((ds / "tokenizer.json").string(), (ds / "tokenizer_config.json").string()));
    ok &= bench("deepseek_v3/tokenizer.json", *tok, text, reps);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 2;
  }
  return ok ? 0 : 1;
}
