// Long runs and memory: (1) one sequence of many generated tokens, (2) many
// prompts one after the other in one process (what a batch job does), both
// through the Engine and the CLI's generate loop. Prints anonymous RSS (and
// the mapped file's resident pages) as it goes, after warm-up and at the end,
// the growth between them and the peak.
// A leak or a structure that grows per prompt shows as growth in (2); in (1)
// the KV cache grows by design, and its expected size is printed beside it.
// Usage: bench_long_run [MODEL] [TOKENS] [PROMPTS] [NEW_PER_PROMPT]
//   (defaults: the stories260K test model, 20000, 1000, 32)
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/generate.h"
#include "core/compute/engine.h"
#include "core/compute/sampler.h"
#include "core/error.h"

using namespace moerun;

namespace {

// A field of /proc/self/status ("RssAnon", "RssFile") in MiB. Anonymous
// memory is what a leak grows; file pages are the mapped weights, which grow
// as first-used experts are read in.
double status_mib(const char* key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) == 0 && line[std::strlen(key)] == ':') {
      return std::atof(line.c_str() + std::strlen(key) + 1) / 1024;  // kB
    }
  }
  return 0;
}
double rss_mib() { return status_mib("RssAnon"); }
double file_mib() { return status_mib("RssFile"); }

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024;  // KiB on Linux
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> prompts_from(const std::string& path, size_t n) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line, cur;
  // Consecutive non-empty lines, 1 to 3 at a time: prompts of varied length.
  while (out.size() < n && std::getline(in, line)) {
    if (line.empty()) continue;
    cur += (cur.empty() ? "" : "\n") + line;
    if (cur.size() > 20 * (1 + out.size() % 3)) {
      out.push_back(cur);
      cur.clear();
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string data = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata";
  const std::string model = argc > 1 ? argv[1] : data + "/models/stories260K.gguf";
  const int64_t n_tokens = argc > 2 ? std::atoll(argv[2]) : 20000;
  const size_t n_prompts = argc > 3 ? static_cast<size_t>(std::atoll(argv[3])) : 1000;
  const int64_t n_new = argc > 4 ? std::atoll(argv[4]) : 32;
  try {
    SamplerParams sp;
    sp.seed = 42;
    cli::GenerateOptions go;
    go.ignore_eos = true;

    // (1) One sequence: the context holds every token.
    {
      EngineOptions eo;
      eo.model_path = model;
      eo.n_ctx = n_tokens + 16;
      Engine engine(eo);
      const KvLayout kl = engine.model().kv_layout();
      const double kv_mib = static_cast<double>(kl.n_layer * (kl.k_dim + kl.v_dim)) * 4 * (n_tokens + 16) / (1 << 20);
      const std::vector<int32_t> prompt = engine.tokenizer().encode("Once upon a time", true, false);
      std::printf("one sequence: %s, %lld tokens, context %lld\n", model.c_str(), static_cast<long long>(n_tokens),
                  static_cast<long long>(engine.n_ctx()));
      std::printf("  anonymous rss after load %.1f MiB (mapped file %.1f MiB); KV cache for the full context %.1f MiB\n",
                  rss_mib(), file_mib(), kv_mib);
      Sampler sampler(sp);
      go.n_predict = n_tokens - static_cast<int64_t>(prompt.size());
      int64_t done = 0;
      double rss_first = 0;
      const auto t0 = std::chrono::steady_clock::now();
      cli::generate(engine, prompt, sampler, go, [&](int32_t) {
        if (++done % std::max<int64_t>(1, n_tokens / 10) == 0) {
          if (rss_first == 0) rss_first = rss_mib();
          std::printf("  %7lld tokens  anon %7.1f MiB  file %5.1f MiB  %6.0f tokens/s so far\n",
                      static_cast<long long>(done), rss_mib(), file_mib(), static_cast<double>(done) / seconds_since(t0));
          std::fflush(stdout);
        }
        return true;
      });
      std::printf("  generated %lld; anon rss at 10%% %.1f MiB, at the end %.1f MiB (growth %.1f MiB; KV for 90%% %.1f MiB)\n",
                  static_cast<long long>(done), rss_first, rss_mib(), rss_mib() - rss_first, kv_mib * 0.9);
    }

    // (2) Many prompts, one after another, in one engine.
    {
      EngineOptions eo;
      eo.model_path = model;
      Engine engine(eo);
      const std::vector<std::string> prompts = prompts_from(data + "/text/tinyshakespeare.txt", n_prompts);
      std::printf("many prompts: %zu prompts, %lld new tokens each, context %lld\n", prompts.size(),
                  static_cast<long long>(n_new), static_cast<long long>(engine.n_ctx()));
      go.n_predict = n_new;
      const size_t warm = std::max<size_t>(1, prompts.size() / 10);
      double rss_warm = 0;
      int64_t total = 0;
      const auto t0 = std::chrono::steady_clock::now();
      for (size_t i = 0; i < prompts.size(); ++i) {
        engine.kv().clear(0);
        Sampler sampler(sp);
        const std::vector<int32_t> prompt = engine.tokenizer().encode(prompts[i], true, false);
        const cli::GenerateStats st = cli::generate(engine, prompt, sampler, go, [](int32_t) { return true; });
        total += st.n_prompt + st.n_generated;
        if (i + 1 == warm) rss_warm = rss_mib();
        if ((i + 1) % warm == 0) {
          std::printf("  %5zu prompts  anon %7.1f MiB  file %5.1f MiB  %6.0f tokens/s so far\n", i + 1, rss_mib(),
                      file_mib(), static_cast<double>(total) / seconds_since(t0));
          std::fflush(stdout);
        }
      }
      std::printf("  anon rss after warm-up (%zu prompts) %.2f MiB, at the end %.2f MiB: growth %.3f MiB\n", warm,
                  rss_warm, rss_mib(), rss_mib() - rss_warm);
    }
    std::printf("peak rss %.1f MiB (anonymous and file)\n", peak_rss_mib());
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_long_run: %s\n", e.what());
    return e.exit_status();
  }
  return 0;
}
