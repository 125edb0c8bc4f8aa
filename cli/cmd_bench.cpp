// moerun bench: prompt processing (pp: tokens/s over a P-token prompt in
// chunks of --ubatch) and token generation (tg: tokens/s over N decode
// steps; with --batch B, B sequences step together and tg is their aggregate
// tokens/s), as llama-bench measures them, so the two can be compared side by
// side on the same GGUF. Decode streams the active weights once per step, so
// tg is also reported as a fraction of the memory's read bandwidth (measured
// here at start, or given with --bw): tg x active bytes / bandwidth.
// Token ids are drawn from a fixed seed: speed does not depend on them.
// With --ctx N, tg is timed after the cache holds N positions, with the
// attention's share of each token (cli/bench_context.h).
// Text on stdout, or one JSON object with --json.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>

#include "cli/bandwidth.h"
#include "cli/bench_context.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/generate.h"
#include "core/compute/op_profile.h"
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
  int64_t ubatch = 512;  // prompt tokens per forward pass
  int64_t batch = 1;     // sequences decoded together in tg
  double bw = 0;         // GB/s; 0: measure
  bool json = false;
  bool profile = false;  // time per forward-pass stage
  int64_t depth = 0;     // --ctx: positions in the cache before tg
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

// tokens/s of n_gen steps of `batch` sequences, all starting at position
// `depth` (empty, or filled by fill_context).
double time_decode(Engine& engine, int64_t n_gen, int64_t n_seq, std::mt19937& rng,
                   std::uniform_int_distribution<int32_t>& pick, int64_t depth) {
  for (int64_t s = 0; s < n_seq; ++s) {
    if (depth == 0) engine.kv().clear(s);
    engine.kv().set_len(s, depth);
  }
  Batch batch;
  const double t0 = now_seconds();
  for (int64_t i = 0; i < n_gen; ++i) {
    batch.clear();
    for (int64_t s = 0; s < n_seq; ++s) {
      batch.add(pick(rng), static_cast<int32_t>(depth + i), static_cast<int32_t>(s), true);
    }
    engine.decode(batch);
  }
  return static_cast<double>(n_gen * n_seq) / (now_seconds() - t0);
}

// Stage times of the last repetition, per token, largest first.
void print_profile(const char* phase, std::vector<OpTime> ops, int64_t n_tokens) {
  if (ops.empty() || n_tokens == 0) return;
  double total = 0;
  for (const OpTime& t : ops) total += t.seconds;
  std::sort(ops.begin(), ops.end(), [](const OpTime& a, const OpTime& b) { return a.seconds > b.seconds; });
  std::printf("%s stages (last repetition; ms per token, share of the timed stages):\n", phase);
  for (const OpTime& t : ops) {
    std::printf("  %-16s %9.3f ms  %5.1f%%  (%lld calls)\n", t.name.c_str(), 1e3 * t.seconds / n_tokens,
                100.0 * t.seconds / total, static_cast<long long>(t.calls));
  }
}

void run_bench(const BenchOptions& o) {
  BenchOptions opt = o;
  if (opt.model.ctx == 0) opt.model.ctx = std::max<int64_t>(opt.n_prompt, opt.depth + opt.n_gen + 1);
  Engine engine = make_engine(opt.model, opt.batch);
  if (opt.n_prompt > engine.n_ctx() || opt.depth + opt.n_gen + 1 > engine.n_ctx()) {
    fail("bench: -p " + std::to_string(opt.n_prompt) + " / --ctx " + std::to_string(opt.depth) + " + -n " +
         std::to_string(opt.n_gen) + " do not fit the context of " + std::to_string(engine.n_ctx()));
  }
  const bool measured_bw = opt.bw <= 0;
  const double bw = measured_bw ? measure_read_bandwidth() : opt.bw;

  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(engine.n_vocab() - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(opt.n_prompt));
  for (int32_t& t : prompt) t = pick(rng);

  // One untimed pass of the whole prompt, as llama-bench's warmup: it pages
  // the weights in and grows every buffer a prompt pass uses (KV pages,
  // scratch), so the first timed repetition pays no page faults for them
  // (with 8 tokens, a single repetition of ds2-lite pp512 read ~10% low).
  engine.kv().clear(0);
  prefill(engine, prompt, 0, 0, opt.ubatch);

  std::vector<double> pp, tg;
  std::vector<OpTime> pp_ops, tg_ops;
  std::vector<AttentionTime> tg_att;
  std::vector<int32_t> fill_tokens(static_cast<size_t>(opt.depth > 0 ? kFillPrefill : 0));
  for (int32_t& t : fill_tokens) t = pick(rng);
  op_profile_enable(opt.profile || opt.depth > 0);
  for (int64_t r = 0; r < opt.reps; ++r) {
    if (opt.n_prompt > 0) {
      engine.kv().clear(0);
      op_profile_reset();
      const double t0 = now_seconds();
      prefill(engine, prompt, 0, 0, opt.ubatch);
      pp.push_back(static_cast<double>(opt.n_prompt) / (now_seconds() - t0));
      pp_ops = op_profile_snapshot();
    }
    if (opt.n_gen > 0) {
      // pp cleared sequence 0; otherwise the fill of the first repetition stays.
      if (opt.depth > 0 && (r == 0 || opt.n_prompt > 0)) fill_context(engine, opt.depth, opt.batch, fill_tokens);
      op_profile_reset();
      tg.push_back(time_decode(engine, opt.n_gen, opt.batch, rng, pick, opt.depth));
      tg_ops = op_profile_snapshot();
      tg_att.push_back(attention_time(tg_ops, opt.n_gen));
    }
  }
  op_profile_enable(false);
  const Stat p = stat_of(pp), g = stat_of(tg);
  const ModelInfo& mi = engine.model().info();
  const int n_threads = threads();
  const char* isa = kernels().name;
  const std::string path = model_path(opt.model);
  const double huge = engine.gguf().huge_page_share();
  // Single-sequence decode reads the active weights once per token; a
  // batch step reads them once for all its sequences (more distinct
  // experts, but not B times the bytes), so the roofline is for B = 1 only.
  const double gbs = g.mean * static_cast<double>(mi.bytes_active) / 1e9;
  const double roof = opt.batch == 1 && bw > 0 ? gbs / bw : 0.0;
  AttentionTime att;  // per token, mean over the repetitions
  for (const AttentionTime& a : tg_att) {
    att.attention += a.attention / static_cast<double>(tg_att.size());
    att.select += a.select / static_cast<double>(tg_att.size());
  }
  char ctx_json[160] = "";
  if (opt.depth > 0) {
    std::snprintf(ctx_json, sizeof(ctx_json), ", \"ctx\": %lld, \"attention_ms\": %.4f, \"select_ms\": %.4f",
                  static_cast<long long>(opt.depth), 1e3 * att.attention, 1e3 * att.select);
  }
  if (opt.json) {
    std::printf("{\"model\": \"%s\", \"arch\": \"%s\", \"file_bytes\": %llu, \"active_bytes\": %llu, "
                "\"threads\": %d, \"isa\": \"%s\", \"ubatch\": %lld, \"batch\": %lld, \"reps\": %lld, "
                "\"bw\": %.3f, \"bw_measured\": %s, \"huge_pages\": %.3f, \"flash_attn\": %s, "
                "\"pp\": {\"n\": %lld, \"tokens_per_s\": %.3f, \"sd\": %.3f}, "
                "\"tg\": {\"n\": %lld, \"tokens_per_s\": %.3f, \"sd\": %.3f, \"gb_per_s\": %.3f, \"roofline\": %.4f%s}}\n",
                path.c_str(), mi.arch.c_str(), static_cast<unsigned long long>(engine.gguf().file_size()),
                static_cast<unsigned long long>(mi.bytes_active), n_threads, isa, static_cast<long long>(opt.ubatch),
                static_cast<long long>(opt.batch), static_cast<long long>(opt.reps), bw,
                measured_bw ? "true" : "false", huge, opt.model.flash_attn ? "true" : "false",
                static_cast<long long>(opt.n_prompt), p.mean, p.sd,
                static_cast<long long>(opt.n_gen), g.mean, g.sd, gbs, roof, ctx_json);
    return;
  }
  std::printf("model: %s (%s), %.2f MiB, %.2f MiB of weights read per token\n", path.c_str(), mi.arch.c_str(),
              engine.gguf().file_size() / 1048576.0, mi.bytes_active / 1048576.0);
  std::printf("threads %d, isa %s, ubatch %lld, %lld repetitions, read bandwidth %.1f GB/s (%s)%s\n", n_threads,
              isa, static_cast<long long>(opt.ubatch), static_cast<long long>(opt.reps), bw,
              measured_bw ? "measured" : "given", opt.model.flash_attn ? ", flash attention" : "");
  if (huge >= 0) {
    std::printf("weights in 2 MiB pages: %.0f%%%s\n", 100.0 * huge,
                huge < 0.9 ? " (decode is slower in 4 KiB pages; --no-mmap reads the file into huge pages)" : "");
  }
  if (opt.n_prompt > 0) std::printf("pp%-6lld %10.2f ± %.2f tokens/s\n", static_cast<long long>(opt.n_prompt), p.mean, p.sd);
  if (opt.n_gen > 0 && opt.batch == 1) {
    std::printf("tg%-6lld %10.2f ± %.2f tokens/s  (%.2f GB/s of active weights, %.0f%% of the bandwidth ceiling)\n",
                static_cast<long long>(opt.n_gen), g.mean, g.sd, gbs, 100.0 * roof);
  } else if (opt.n_gen > 0) {
    std::printf("tg%-6lld %10.2f ± %.2f tokens/s  (aggregate of %lld sequences decoded together)\n",
                static_cast<long long>(opt.n_gen), g.mean, g.sd, static_cast<long long>(opt.batch));
  }
  if (opt.n_gen > 0 && opt.depth > 0) {
    const double token = 1.0 / (g.mean / static_cast<double>(opt.batch));
    std::printf("  at ctx %lld: attention %.3f ms per token (%.0f%%), choosing its keys %.3f ms (%.0f%%)\n",
                static_cast<long long>(opt.depth), 1e3 * att.attention, 100.0 * att.attention / token,
                1e3 * att.select, 100.0 * att.select / token);
  }
  if (opt.profile) {
    print_profile("pp", pp_ops, opt.n_prompt);
    print_profile("tg", tg_ops, opt.n_gen);
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure prompt processing and token generation speed (like llama-bench)");
  add_model_options(cmd, o->model, true, "-c");
  cmd->add_option("--ctx", o->depth, "fill the cache to N positions before tg: tg and its attention time at that context")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens for pp (0: skip)")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-n,--n-gen", o->n_gen, "generated tokens for tg (0: skip)")->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-r,--reps", o->reps, "repetitions")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("-u,--ubatch", o->ubatch, "prompt tokens per forward pass in pp")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--batch", o->batch, "sequences decoded together in tg (tg is then their aggregate tokens/s)")
      ->capture_default_str()->check(CLI::Range(1, 256));
  cmd->add_option("--bw", o->bw, "memory read bandwidth in GB/s for the roofline (default: measured at start)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "print one JSON object instead of text");
  cmd->add_flag("--profile", o->profile, "also print the time of each forward-pass stage (text only)");
  cmd->callback([o] { run_bench(*o); });
}

}  // namespace moerun::cli
