// SAMPLING options shared by run, chat and batch (DESIGN §10).
#pragma once

#include <CLI/CLI.hpp>

#include "core/compute/sampler.h"

namespace moerun::cli {

inline void add_sampling_options(CLI::App* cmd, SamplerParams& s) {
  cmd->add_option("--temp", s.temp, "temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "keep the k most likely tokens (0 = off)")->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "keep the smallest set with this probability mass (1 = off)")->capture_default_str();
  cmd->add_option("--min-p", s.min_p, "drop tokens below this fraction of the top probability (0 = off)")
      ->capture_default_str();
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "penalty for recently seen tokens (1 = off)")
      ->capture_default_str();
  cmd->add_option("--repeat-last-n", s.repeat_last_n, "how many recent tokens the penalty looks at")
      ->capture_default_str();
  cmd->add_option("--seed", s.seed, "random seed")->capture_default_str();
}

}  // namespace moerun::cli
