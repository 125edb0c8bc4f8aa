// One registration function per subcommand (cli/cmd_<name>.cpp).
#pragma once

#include <CLI/CLI.hpp>

namespace moerun::cli {

void add_run_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_batch_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_logits_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_synth_command(CLI::App& app);

}  // namespace moerun::cli
