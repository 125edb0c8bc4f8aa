// moerun run: one prompt in, generated text streamed to stdout; progress and
// speed on stderr.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/generate.h"
#include "cli/sampling_options.h"
#include "core/error.h"

namespace moerun::cli {

namespace {

struct RunOptions {
  ModelOptions model;
  SamplerParams sampling;
  std::string prompt;
  int64_t n_predict = 128;
  bool ignore_eos = false;
  bool no_echo = false;
};

void run_run(const RunOptions& o) {
  Engine engine = make_engine(o.model);
  const Tokenizer& tok = engine.tokenizer();
  const std::vector<int32_t> prompt = tok.encode(o.prompt, tok.add_bos(), true);
  if (prompt.empty()) fail("the prompt is empty and the vocabulary adds no BOS token: nothing to continue");
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt > engine.n_ctx()) {
    fail("the prompt has " + std::to_string(n_prompt) + " tokens, more than the context of " +
         std::to_string(engine.n_ctx()) + " (raise -c)");
  }
  if (o.n_predict > 0 && n_prompt + o.n_predict > engine.n_ctx() + 1) {
    std::fprintf(stderr, "moerun: warning: the context of %lld tokens leaves room for %lld new tokens\n",
                 static_cast<long long>(engine.n_ctx()), static_cast<long long>(engine.n_ctx() - n_prompt + 1));
  }
  if (!o.no_echo) {
    std::fwrite(o.prompt.data(), 1, o.prompt.size(), stdout);
    std::fflush(stdout);
  }
  Sampler sampler(o.sampling);
  StreamDecoder stream(tok);
  GenerateOptions go;
  go.n_predict = o.n_predict;
  go.ignore_eos = o.ignore_eos;
  const GenerateStats st = generate(engine, prompt, sampler, go, [&](int32_t t) {
    const std::string text = stream.push(t);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  const std::string rest = stream.flush();
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  std::fprintf(stderr, "moerun: prompt %lld tokens in %.3f s (%.1f t/s), generated %lld tokens in %.3f s (%.1f t/s)\n",
               static_cast<long long>(st.n_prompt), st.prefill_seconds,
               st.prefill_seconds > 0 ? st.n_prompt / st.prefill_seconds : 0.0,
               static_cast<long long>(st.n_generated), st.decode_seconds,
               st.decode_seconds > 0 ? st.n_generated / st.decode_seconds : 0.0);
}

}  // namespace

void add_run_command(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Continue a prompt and stream the generated text to stdout");
  add_model_options(cmd, o->model);
  cmd->add_option("-p,--prompt", o->prompt, "the text to continue")->required();
  cmd->add_option("-n,--n-predict", o->n_predict, "tokens to generate (-1: until the end of text or context)");
  cmd->add_flag("--ignore-eos", o->ignore_eos, "keep generating past end-of-text tokens");
  cmd->add_flag("--no-echo", o->no_echo, "print only the generated text, not the prompt");
  add_sampling_options(cmd, o->sampling);
  cmd->callback([o] { run_run(*o); });
}

}  // namespace moerun::cli
