// --sparse-attn[=BUDGET] and --sparse-window-only on the command line: a
// budget below 64 or the baseline flag alone is a usage error (exit 2); the
// default budget runs. (What the option computes: tests/core/compute/
// test_block_sparse.cpp; its fidelity: tests/bench/sparse_fidelity.sh.)
#include <doctest/doctest.h>

#include <string>

#include "tests/cli/cli_runner.h"
#include "tests/temp_dir.h"

using namespace moerun;

namespace {
const std::string kStories = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/stories260K.gguf";
}

TEST_CASE("cli: --sparse-attn takes a budget of at least 64; --sparse-window-only needs it") {
  const std::string out = test::temp_dir("moerun-sparse-cli-") + "/out.f32";
  test::CliResult r = test::run_moerun("logits -m " + kStories + " --tokens \"1 2 3\" -o " + out + " --sparse-attn=8");
  CHECK(r.status == 2);  // CLI11's usage error
  CHECK(r.err.find("--sparse-attn") != std::string::npos);
  r = test::run_moerun("logits -m " + kStories + " --tokens \"1 2 3\" -o " + out + " --sparse-window-only");
  CHECK(r.status == 2);
  CHECK(test::count_lines(r.err) == 1);
  r = test::run_moerun("logits -m " + kStories + " --tokens \"1 2 3\" -o " + out + " --sparse-attn");
  CHECK_MESSAGE(r.status == 0, r.err);
}
