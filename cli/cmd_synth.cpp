// moerun synth: writes a random-weight GGUF model of a preset's shapes
// (DESIGN §10), for tests (tiny presets, checked against llama.cpp) and
// benchmarks (real shapes: speed does not depend on the weight values).
// The descriptions live in models/*_synth.cpp; this file owns the options,
// progress and the throughput report.
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "core/error.h"
#include "models/synth.h"
#include "quant/format.h"

namespace moerun::cli {

namespace {

struct SynthOptions {
  std::string arch;
  std::string preset;
  bool tiny = false;
  bool list = false;
  std::string type = "f32";
  std::string out;
  uint64_t seed = 1;
  int64_t layers = 0;
  int threads = 0;
};

void list_presets() {
  for (const SynthPreset& p : synth_presets()) {
    std::printf("%-10s %-18s %-5s %s\n", p.arch.c_str(), p.name.c_str(), p.tiny ? "tiny" : "", p.about.c_str());
  }
}

void run_synth(const SynthOptions& o) {
  if (o.list) {
    list_presets();
    return;
  }
  if (o.arch.empty()) fail("synth: give --arch (see --list)");
  if (o.tiny == !o.preset.empty()) fail("synth: give exactly one of --preset NAME and --tiny");
  if (o.out.empty()) fail("synth: give -o OUT.gguf");
  apply_threads(o.threads);
  const FormatTraits* type = find_format(o.type);
  if (type == nullptr || type->quantize == nullptr || type->type == QType::Q8_1 || type->type == QType::Q8_K) {
    fail("synth: unknown or unsupported type '" + o.type + "' (use one of: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, "
         "q5_1, q4_k, q5_k, q6_k)");
  }
  const SynthPreset& preset = find_synth_preset(o.arch, o.preset);
  const SynthModel model = preset.build(o.layers);

  const auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  Progress bar("synth", 0, "MiB");
  const uint64_t bytes = write_synth(model, type->type, o.seed, o.out, [&](const SynthProgress& p) {
    const double s = seconds();
    char rate[32];
    std::snprintf(rate, sizeof(rate), "%.0f MB/s", s > 0 ? p.bytes_done / 1e6 / s : 0.0);
    bar.set_total(static_cast<int64_t>(p.bytes_total >> 20));
    bar.update(static_cast<int64_t>(p.bytes_done >> 20), rate);
  });
  bar.finish();
  const double s = seconds();
  std::fprintf(stderr, "synth: %s %s (%s, %.3f B parameters) -> %s: %.1f MiB in %.1f s, %.0f MB/s\n",
               preset.arch.c_str(), preset.name.c_str(), type->name, model.n_params() / 1e9, o.out.c_str(),
               bytes / 1048576.0, s, s > 0 ? bytes / 1e6 / s : 0.0);
}

}  // namespace

void add_synth_command(CLI::App& app) {
  auto o = std::make_shared<SynthOptions>();
  CLI::App* cmd = app.add_subcommand("synth", "Write a random-weight GGUF model with a preset's shapes");
  cmd->add_option("--arch", o->arch, "architecture: deepseek2, qwen3moe, qwen2moe, llama (see --list)");
  cmd->add_option("--preset", o->preset, "preset name (see --list)");
  cmd->add_flag("--tiny", o->tiny, "the architecture's default tiny test preset");
  cmd->add_flag("--list", o->list, "list every architecture and preset");
  cmd->add_option("--type", o->type, "f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k (default f32)");
  cmd->add_option("-o,--output", o->out, "GGUF file to write");
  cmd->add_option("--seed", o->seed, "random seed (same seed, same file)");
  cmd->add_option("--layers", o->layers, "number of blocks (default: the preset's)")->check(CLI::PositiveNumber);
  cmd->add_option("-t,--threads", o->threads, "threads (default: one per core)")->check(CLI::NonNegativeNumber);
  cmd->callback([o] { run_synth(*o); });
}

}  // namespace moerun::cli
