// moerun: the command-line front end. Each subcommand lives in its own file
// and registers itself here; this file owns only error handling and exit
// statuses (DESIGN §9: 0 ok, 1 runtime failure, 2 bad usage or input).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"moerun: runs sparse Mixture-of-Experts language models from GGUF files on CPUs"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "show help for every subcommand");
  moerun::cli::add_run_command(app);
  moerun::cli::add_chat_command(app);
  moerun::cli::add_batch_command(app);
  moerun::cli::add_perplexity_command(app);
  moerun::cli::add_logits_command(app);
  moerun::cli::add_tokenize_command(app);
  moerun::cli::add_info_command(app);
  moerun::cli::add_quantize_command(app);
  moerun::cli::add_bench_command(app);
  moerun::cli::add_synth_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const moerun::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "moerun: error: %s\n", e.what());
    return e.exit_status();
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fprintf(stderr, "moerun: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "moerun: error: %s\n", moerun::one_line(e.what()).c_str());
    return 1;
  }
  return 0;
}
