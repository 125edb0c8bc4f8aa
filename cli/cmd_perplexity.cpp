// moerun perplexity: the quality figure models and quantizations are
// compared by, computed as llama.cpp's llama-perplexity does
// (cli/perplexity.h), so the two tools' figures can be put side by side.
// The result line goes to stdout, everything else to stderr.
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/interrupt.h"
#include "cli/perplexity.h"
#include "cli/progress.h"
#include "core/error.h"

namespace moerun::cli {

namespace {

struct PerplexityOptions {
  ModelOptions model;
  std::string file;
  int64_t chunks = -1;
  int64_t batch = 512;
};

// llama-perplexity's default window.
constexpr int64_t kDefaultCtx = 512;

void run_perplexity(PerplexityOptions o) {
  if (o.model.ctx == 0) o.model.ctx = kDefaultCtx;
  if (o.batch < 1) fail("perplexity: -b must be at least 1");
  const std::string text = read_file(o.file);
  Engine engine = make_engine(o.model);
  const Tokenizer& tok = engine.tokenizer();
  const std::vector<int32_t> tokens = tok.encode(text, tok.add_bos(), false);
  const PerplexityPlan plan = plan_perplexity(static_cast<int64_t>(tokens.size()), engine.n_ctx(), o.chunks);
  const int32_t bos = tok.add_bos() ? tok.bos_id() : -1;
  std::fprintf(stderr, "moerun: perplexity: %zu tokens; %lld windows of %lld, scoring positions %lld..%lld of each\n",
               tokens.size(), static_cast<long long>(plan.n_chunk), static_cast<long long>(plan.n_ctx),
               static_cast<long long>(plan.first), static_cast<long long>(plan.n_ctx - 2));

  const int64_t V = engine.n_vocab();
  NllSum sum;
  InterruptScope ctrl_c;
  Progress bar("perplexity", plan.n_chunk, "windows");
  const auto t0 = std::chrono::steady_clock::now();
  Batch batch;
  for (int64_t c = 0; c < plan.n_chunk; ++c) {
    const std::vector<int32_t> w = plan.window(tokens, c, bos);
    const int32_t* next = tokens.data() + c * plan.n_ctx;  // the true tokens, BOS not substituted
    engine.kv().clear(0);
    for (int64_t b0 = 0; b0 < plan.n_ctx; b0 += o.batch) {
      if (interrupted()) fail_runtime("perplexity: interrupted");
      const int64_t b1 = std::min(plan.n_ctx, b0 + o.batch);
      batch.clear();
      for (int64_t j = b0; j < b1; ++j) batch.add(w[j], static_cast<int32_t>(j), 0, j >= plan.first);
      const std::vector<float>& logits = engine.decode(batch);
      int64_t row = 0;
      for (int64_t j = std::max(b0, plan.first); j < b1; ++j, ++row) {
        if (j + 1 < plan.n_ctx) sum.add(logits.data() + row * V, V, next[j + 1]);
      }
    }
    char detail[64];
    std::snprintf(detail, sizeof(detail), "ppl %.4f", sum.perplexity());
    bar.update(c + 1, detail);
  }
  bar.finish();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "moerun: perplexity: %lld tokens scored in %.1f s (%.1f tokens/s evaluated)\n",
               static_cast<long long>(sum.count()), s, s > 0 ? plan.n_chunk * plan.n_ctx / s : 0.0);
  std::printf("perplexity: %.4f \u00b1 %.5f\n", sum.perplexity(), sum.uncertainty());
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
  auto o = std::make_shared<PerplexityOptions>();
  CLI::App* cmd =
      app.add_subcommand("perplexity", "Perplexity of a model over a text file, as llama-perplexity computes it");
  cmd->footer("The text is cut into windows of -c tokens, each evaluated from BOS; the second half of each window is\n"
              "scored. Prints 'perplexity: X \u00b1 Y' (Y: the standard error) on stdout.");
  add_model_options(cmd, o->model, false);
  add_flash_attn_option(cmd, o->model);
  cmd->add_option("-f,--file", o->file, "text file")->required();
  cmd->add_option("-c,--ctx", o->model.ctx, "tokens per window (default 512, as llama-perplexity)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--chunks", o->chunks, "evaluate at most this many windows (default: every whole window)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("-b,--batch", o->batch, "tokens per forward pass")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->callback([o] { run_perplexity(*o); });
}

}  // namespace moerun::cli
