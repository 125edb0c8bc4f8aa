// moerun bench: prompt processing (pp: tokens/s over a P-token prompt in
// batches) and token generation (tg: tokens/s over N single-token steps), as
// llama-bench measures them, so the two can be compared side by side on the
// same GGUF. Token ids are drawn from a fixed seed: speed does not depend on
// them. Text on stdout, or one JSON object with --json.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/generate.h"
#include "core/compute/thread_pool.h"
#include "core/error.h"
#include "simd/dispatch.h"

namespace moerun::cli {

namespace {

struct BenchOptions {
  ModelOptions model;
  int64_t n_prompt = 512;
  int64_t n_gen = 128;
  int64_t reps = 3;
  int64_t batch = 512;
  bool json = false;
};

struct Stat {
  double mean = 0, sd = 0;
};

Stat stat_of(const std::vector<double>& v) {
  Stat s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / static_cast<double>(v.size() - 1)) : 0.0;
  return s;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void run_bench(const BenchOptions& o) {
  BenchOptions opt = o;
  if (opt.model.ctx == 0) opt.model.ctx = std::max<int64_t>(opt.n_prompt, opt.n_gen + 1);
  Engine engine = make_engine(opt.model);
  if (opt.n_prompt > engine.n_ctx() || opt.n_gen + 1 > engine.n_ctx()) {
    fail("bench: -p " + std::to_string(opt.n_prompt) + " / -n " + std::to_string(opt.n_gen) +
         " do not fit the context of " + std::to_string(engine.n_ctx()));
  }
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(engine.n_vocab() - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(opt.n_prompt));
  for (int32_t& t : prompt) t = pick(rng);

  // One untimed pass pages the weights in and warms the caches.
  engine.kv().clear(0);
  prefill(engine, std::vector<int32_t>(prompt.begin(), prompt.begin() + std::min<int64_t>(opt.n_prompt, 8)), 0, 0,
          opt.batch);

  std::vector<double> pp, tg;
  for (int64_t r = 0; r < opt.reps; ++r) {
    if (opt.n_prompt > 0) {
      engine.kv().clear(0);
      const double t0 = now_seconds();
      prefill(engine, prompt, 0, 0, opt.batch);
      pp.push_back(static_cast<double>(opt.n_prompt) / (now_seconds() - t0));
    }
    if (opt.n_gen > 0) {
      engine.kv().clear(0);
      int32_t tok = pick(rng);
      const double t0 = now_seconds();
      for (int64_t i = 0; i < opt.n_gen; ++i) {
        decode_step(engine, tok, i, 0);
        tok = pick(rng);
      }
      tg.push_back(static_cast<double>(opt.n_gen) / (now_seconds() - t0));
    }
  }
  const Stat p = stat_of(pp), g = stat_of(tg);
  const ModelInfo& mi = engine.model().info();
  const int n_threads = threads();
  const char* isa = kernels().name;
  const std::string path = model_path(opt.model);
  if (opt.json) {
    std::printf("{\"model\": \"%s\", \"arch\": \"%s\", \"file_bytes\": %llu, \"bytes_active\": %llu, "
                "\"threads\": %d, \"isa\": \"%s\", \"batch\": %lld, \"reps\": %lld, "
                "\"pp\": {\"n\": %lld, \"tokens_per_s\": %.3f, \"sd\": %.3f}, "
                "\"tg\": {\"n\": %lld, \"tokens_per_s\": %.3f, \"sd\": %.3f}}\n",
                path.c_str(), mi.arch.c_str(), static_cast<unsigned long long>(engine.gguf().file_size()),
                static_cast<unsigned long long>(mi.bytes_active), n_threads, isa, static_cast<long long>(opt.batch),
                static_cast<long long>(opt.reps), static_cast<long long>(opt.n_prompt), p.mean, p.sd,
                static_cast<long long>(opt.n_gen), g.mean, g.sd);
    return;
  }
  std::printf("model: %s (%s), %.2f MiB, %.2f MiB of weights read per token\n", path.c_str(), mi.arch.c_str(),
              engine.gguf().file_size() / 1048576.0, mi.bytes_active / 1048576.0);
  std::printf("threads %d, isa %s, batch %lld, %lld repetitions\n", n_threads, isa, static_cast<long long>(opt.batch),
              static_cast<long long>(opt.reps));
  if (opt.n_prompt > 0) std::printf("pp%-6lld %10.2f ± %.2f tokens/s\n", static_cast<long long>(opt.n_prompt), p.mean, p.sd);
  if (opt.n_gen > 0) {
    std::printf("tg%-6lld %10.2f ± %.2f tokens/s  (%.2f GB/s of active weights)\n", static_cast<long long>(opt.n_gen),
                g.mean, g.sd, g.mean * static_cast<double>(mi.bytes_active) / 1e9);
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt processing and token generation speed (like llama-bench)");
  add_model_options(cmd, o->model);
  cmd->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens for pp (0: skip)")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-n,--n-gen", o->n_gen, "generated tokens for tg (0: skip)")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-r,--reps", o->reps, "repetitions")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--batch", o->batch, "tokens per forward pass in pp")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "print one JSON object instead of text");
  cmd->callback([o] { run_bench(*o); });
}

}  // namespace moerun::cli
