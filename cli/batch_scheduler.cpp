#include "cli/batch_scheduler.h"

#include <chrono>
#include <optional>

#include "cli/generate.h"
#include "core/error.h"

namespace moerun::cli {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

struct BatchScheduler::Slot {
  bool live = false;
  int64_t seq = 0;
  BatchJob job;
  std::optional<Sampler> sampler;
  std::optional<StreamDecoder> stream;
  std::vector<int32_t> history;  // prompt + generated (the repetition penalty looks at it)
  std::string text;
  int64_t n_out = 0;
  int32_t next = 0;   // the token to feed at `pos` in the next step
  int64_t pos = 0;
  Clock::time_point t0;
};

BatchScheduler::BatchScheduler(Engine& engine, int64_t parallel) : engine_(engine), parallel_(parallel) {
  if (parallel < 1) fail("--parallel must be at least 1");
  if (engine.kv().n_seq() < parallel) fail_runtime("the engine has fewer sequence slots than --parallel");
}

void BatchScheduler::start(Slot& s, int64_t seq, BatchJob&& job, const BatchCallbacks& cb) {
  s.live = true;
  s.seq = seq;
  s.job = std::move(job);
  s.sampler.emplace(s.job.sampling);
  s.stream.emplace(engine_.tokenizer());
  s.history = s.job.prompt;
  s.text.clear();
  s.n_out = 0;
  s.t0 = Clock::now();
  const int64_t n = static_cast<int64_t>(s.job.prompt.size());
  s.pos = n;
  engine_.kv().clear(seq);
  if (s.job.max_tokens == 0) {  // nothing to generate: the prompt is not even evaluated
    finish(s, "length", cb);
    return;
  }
  const std::vector<float> logits = prefill(engine_, s.job.prompt, 0, seq);
  stats_.prefill_tokens += n;
  stats_.prefill_seconds += seconds_since(s.t0);
  accept(s, s.sampler->sample(logits.data(), engine_.n_vocab(), s.history), cb);
}

void BatchScheduler::accept(Slot& s, int32_t token, const BatchCallbacks& cb) {
  if (engine_.tokenizer().is_eog(token)) {
    finish(s, "stop", cb);
    return;
  }
  s.history.push_back(token);
  s.text += s.stream->push(token);
  ++s.n_out;
  ++stats_.generated;
  if (s.job.max_tokens >= 0 && s.n_out >= s.job.max_tokens) {
    finish(s, "length", cb);
  } else if (s.pos >= engine_.n_ctx()) {  // the token has no position left to be fed at
    finish(s, "length", cb);
  } else {
    s.next = token;
  }
}

void BatchScheduler::finish(Slot& s, const char* reason, const BatchCallbacks& cb) {
  s.live = false;
  s.text += s.stream->flush();
  BatchOutcome o;
  o.tag = s.job.tag;
  o.text = std::move(s.text);
  o.tokens_in = static_cast<int64_t>(s.job.prompt.size());
  o.tokens_out = s.n_out;
  o.finish_reason = reason;
  o.seconds = seconds_since(s.t0);
  engine_.kv().clear(s.seq);
  cb.done(std::move(o));
}

bool BatchScheduler::run(const BatchCallbacks& cb) {
  std::vector<Slot> slots(static_cast<size_t>(parallel_));
  bool more = true;
  Batch batch;
  std::vector<Slot*> rows;
  for (;;) {
    // Refill every free slot; a job may finish within start() (max_tokens
    // 0 or 1, an immediate end of generation), so keep filling that slot.
    for (size_t i = 0; i < slots.size() && more; ++i) {
      while (!slots[i].live && more) {
        if (cb.stop()) return false;
        BatchJob job;
        more = cb.next(job);
        if (more) start(slots[i], static_cast<int64_t>(i), std::move(job), cb);
      }
    }
    batch.clear();
    rows.clear();
    for (Slot& s : slots) {
      if (!s.live) continue;
      batch.add(s.next, static_cast<int32_t>(s.pos), static_cast<int32_t>(s.seq), true);
      rows.push_back(&s);
    }
    if (rows.empty()) return true;
    if (cb.stop()) return false;
    const Clock::time_point t0 = Clock::now();
    const std::vector<float>& logits = engine_.decode(batch);
    stats_.decode_seconds += seconds_since(t0);
    ++stats_.decode_steps;
    stats_.decode_rows += static_cast<int64_t>(rows.size());
    const int64_t V = engine_.n_vocab();
    for (size_t r = 0; r < rows.size(); ++r) {
      Slot& s = *rows[r];
      ++s.pos;
      accept(s, s.sampler->sample(logits.data() + static_cast<int64_t>(r) * V, V, s.history), cb);
    }
    if (cb.progress) cb.progress(stats_.generated);
  }
}

}  // namespace moerun::cli
