// moerun logits: all-position logits for a token list, as raw float32 rows.
// This is how anyone checks moerun against another engine (DESIGN §10).
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"

namespace moerun::cli {

namespace {

struct LogitsOptions {
  ModelOptions model;
  std::string tokens;
  std::string prompt;
  std::string out;
  int64_t batch = 512;
};

void run_logits(const LogitsOptions& o) {
  Engine engine = make_engine(o.model);
  std::vector<int32_t> ids;
  if (!o.tokens.empty()) {
    ids = parse_ids(o.tokens);
  } else {
    const Tokenizer& tok = engine.tokenizer();
    ids = tok.encode(o.prompt, tok.add_bos(), false);
  }
  if (ids.empty()) fail("no tokens to evaluate");
  for (int32_t id : ids) {
    if (id >= engine.n_vocab()) {
      fail("token id " + std::to_string(id) + " is out of range (n_vocab " + std::to_string(engine.n_vocab()) + ")");
    }
  }
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n > engine.n_ctx()) {
    fail("the input has " + std::to_string(n) + " tokens, more than the context of " +
         std::to_string(engine.n_ctx()) + " (raise -c)");
  }
  const int64_t V = engine.n_vocab();
  std::vector<float> all(static_cast<size_t>(n * V));
  Batch batch;
  for (int64_t start = 0; start < n; start += o.batch) {
    batch.clear();
    const int64_t end = std::min(n, start + o.batch);
    for (int64_t i = start; i < end; ++i) batch.add(ids[i], static_cast<int32_t>(i), 0, true);
    const std::vector<float>& logits = engine.decode(batch);
    std::copy(logits.begin(), logits.end(), all.begin() + start * V);
  }
  write_file_atomic(o.out, all.data(), all.size() * sizeof(float));
  std::printf("n_tokens %lld n_vocab %lld\n", static_cast<long long>(n), static_cast<long long>(V));
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto o = std::make_shared<LogitsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "logits", "Write the logits of every input position to a float32 file (row-major, n_tokens x n_vocab)");
  add_model_options(cmd, o->model);
  auto* tokens = cmd->add_option("--tokens", o->tokens, "token ids, space-separated (used as given: no BOS added)");
  auto* prompt = cmd->add_option("-p,--prompt", o->prompt, "text to tokenize (BOS added if the vocabulary asks)");
  tokens->excludes(prompt);
  cmd->add_option("-o,--output", o->out, "output file (float32)")->required();
  cmd->add_option("--batch", o->batch, "tokens per forward pass")->check(CLI::PositiveNumber);
  cmd->callback([o, tokens, prompt] {
    if (tokens->count() == 0 && prompt->count() == 0) fail("logits: give --tokens or -p");
    run_logits(*o);
  });
}

}  // namespace moerun::cli
