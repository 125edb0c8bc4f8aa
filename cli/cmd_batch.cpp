// moerun batch: a JSON Lines file of prompts in, one answer line per prompt
// out (cli/batch_io.h has both formats), with up to --parallel sequences
// decoding together (cli/batch_scheduler.h).
//
// Never loses work (DESIGN §9): answers are appended as they finish; a
// rerun skips the ids OUT already has, so after a crash or Ctrl-C the same
// command resumes. Ctrl-C stops after the current forward pass; requests
// still running are not written and run again next time.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/batch_io.h"
#include "cli/batch_scheduler.h"
#include "cli/chat_prompt.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/interrupt.h"
#include "cli/progress.h"
#include "cli/sampling_options.h"
#include "core/error.h"

namespace moerun::cli {

namespace {

struct BatchOptions {
  ModelOptions model;
  SamplerParams sampling;
  std::string in, out;
  int64_t parallel = 8;
  int64_t max_tokens = 256;
  std::string chat_template;
};

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return std::filesystem::exists(b, ec) && std::filesystem::equivalent(a, b, ec);
}

void run_batch(const BatchOptions& o) {
  if (o.parallel < 1) fail("--parallel must be at least 1");
  if (same_file(o.in, o.out)) fail("batch: -i and -o name the same file");
  BatchInput input = read_batch_input(o.in);
  const std::set<std::string> answered = read_answered_ids(o.out);
  std::vector<const BatchRequest*> todo;
  for (const BatchRequest& r : input.requests) {
    if (answered.count(r.id_key) == 0) todo.push_back(&r);
  }
  const int64_t n_skipped = static_cast<int64_t>(input.requests.size() - todo.size());
  std::fprintf(stderr, "moerun: batch: %zu request(s) in %s: %zu to answer, %lld already in %s%s\n",
               input.requests.size(), o.in.c_str(), todo.size(), static_cast<long long>(n_skipped), o.out.c_str(),
               input.n_malformed > 0 ? (", " + std::to_string(input.n_malformed) + " malformed line(s) skipped").c_str()
                                     : "");
  AnswerWriter writer(o.out);  // created even when there is nothing to do: a rerun finds it
  if (todo.empty()) return;

  Engine engine = make_engine(o.model, o.parallel);
  const Tokenizer& tok = engine.tokenizer();
  std::unique_ptr<ChatPrompt> chat;  // made on the first request with messages
  BatchScheduler scheduler(engine, o.parallel);
  InterruptScope ctrl_c;
  Progress bar("batch", static_cast<int64_t>(todo.size()), "", Progress::Quiet::kPeriodic);
  const auto t0 = std::chrono::steady_clock::now();
  auto rate = [&](int64_t generated) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%.1f tok/s", s > 0 ? generated / s : 0.0);
    return std::string(buf);
  };

  size_t cursor = 0;
  int64_t n_done = 0, n_failed = 0, tokens_in = 0, tokens_out = 0;
  BatchCallbacks cb;
  cb.next = [&](BatchJob& job) {
    while (cursor < todo.size()) {
      const BatchRequest& r = *todo[cursor];
      job.tag = static_cast<int64_t>(cursor++);
      std::string why;
      try {
        if (r.chat) {
          if (!chat) {
            bar.clear();  // the template choice may print a warning
            chat = std::make_unique<ChatPrompt>(engine, o.chat_template);
          }
          job.prompt = chat->tokens(r.messages);
        } else {
          job.prompt = tok.encode(r.prompt, tok.add_bos(), true);
        }
        if (job.prompt.empty()) why = "the prompt is empty and the vocabulary adds no BOS token";
        if (static_cast<int64_t>(job.prompt.size()) > engine.n_ctx()) {
          why = "the prompt has " + std::to_string(job.prompt.size()) + " tokens, more than the context of " +
                std::to_string(engine.n_ctx()) + " (raise -c)";
        }
      } catch (const Error& e) {
        why = e.what();  // e.g. the chat template rejects the conversation
      }
      if (!why.empty()) {
        bar.clear();
        std::fprintf(stderr, "moerun: batch: %s:%lld: %s; request skipped\n", o.in.c_str(),
                     static_cast<long long>(r.line), why.c_str());
        ++n_failed;
        continue;
      }
      job.max_tokens = r.max_tokens.value_or(o.max_tokens);
      job.sampling = o.sampling;
      if (r.temperature) job.sampling.temp = *r.temperature;
      if (r.seed) job.sampling.seed = *r.seed;
      return true;
    }
    return false;
  };
  cb.done = [&](BatchOutcome&& out) {
    const BatchRequest& r = *todo[static_cast<size_t>(out.tag)];
    BatchAnswer a;
    a.id = r.id;
    a.text = std::move(out.text);
    a.tokens_in = out.tokens_in;
    a.tokens_out = out.tokens_out;
    a.finish_reason = out.finish_reason;
    a.ms = static_cast<int64_t>(out.seconds * 1000.0 + 0.5);
    writer.write(a);
    ++n_done;
    tokens_in += a.tokens_in;
    tokens_out += a.tokens_out;
    bar.update(n_done + n_failed, rate(tokens_out));
  };
  cb.stop = [] { return interrupted(); };
  cb.progress = [&](int64_t generated) { bar.update(n_done + n_failed, rate(generated)); };
  const bool complete = scheduler.run(cb);
  bar.finish();

  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const BatchRunStats& st = scheduler.stats();
  std::fprintf(stderr,
               "moerun: batch: %lld answered, %lld skipped (already in %s), %lld malformed line(s), %lld failed; "
               "%lld tokens in, %lld out in %.1f s (%.1f tok/s generated)\n",
               static_cast<long long>(n_done), static_cast<long long>(n_skipped), o.out.c_str(),
               static_cast<long long>(input.n_malformed), static_cast<long long>(n_failed),
               static_cast<long long>(tokens_in), static_cast<long long>(tokens_out), s,
               s > 0 ? st.generated / s : 0.0);
  // Where the time went: prompts (each alone) and decode steps (all live
  // sequences together), for comparing --parallel settings.
  std::fprintf(stderr,
               "moerun: batch: prefill %lld tokens in %.1f s (%.1f tok/s); %lld decode steps of %.2f sequences "
               "on average in %.1f s (%.1f tok/s)\n",
               static_cast<long long>(st.prefill_tokens), st.prefill_seconds,
               st.prefill_seconds > 0 ? st.prefill_tokens / st.prefill_seconds : 0.0,
               static_cast<long long>(st.decode_steps),
               st.decode_steps > 0 ? static_cast<double>(st.decode_rows) / st.decode_steps : 0.0, st.decode_seconds,
               st.decode_seconds > 0 ? st.decode_rows / st.decode_seconds : 0.0);
  if (!complete) {
    const int64_t left = static_cast<int64_t>(todo.size()) - n_done - n_failed;
    fail_runtime("batch: interrupted with " + std::to_string(left) + " request(s) unanswered; run the same command "
                 "again to resume");
  }
}

}  // namespace

void add_batch_command(CLI::App& app) {
  auto o = std::make_shared<BatchOptions>();
  CLI::App* cmd =
      app.add_subcommand("batch", "Answer a JSON Lines file of prompts, several at a time; a rerun resumes");
  cmd->footer(
      "in:  one request per line: {\"id\": ID, \"prompt\": TEXT}\n"
      "     or {\"id\": ID, \"messages\": [{\"role\", \"content\"}...]} (the chat template applied),\n"
      "     optional \"max_tokens\", \"temperature\", \"seed\"; malformed lines are reported and skipped\n"
      "out: {\"id\", \"text\", \"tokens_in\", \"tokens_out\", \"finish_reason\", \"ms\"}, appended as each is done;\n"
      "     ids already in OUT are skipped, so after a crash or Ctrl-C the same command resumes");
  add_model_options(cmd, o->model);
  cmd->add_option("-i,--input", o->in, "JSON Lines file of requests")->required();
  cmd->add_option("-o,--output", o->out, "JSON Lines file answers are appended to (ids in it are skipped)")
      ->required();
  cmd->add_option("--parallel", o->parallel, "sequences decoded together in each forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("-n,--n-predict,--max-tokens", o->max_tokens,
                  "most tokens per answer unless a line sets max_tokens (-1: until the end of text or context)")
      ->capture_default_str();
  cmd->add_option("--chat-template", o->chat_template,
                  "for requests with messages: built-in template name or a Jinja file (default: the model's own)");
  add_sampling_options(cmd, o->sampling);
  cmd->callback([o] { run_batch(*o); });
}

}  // namespace moerun::cli
