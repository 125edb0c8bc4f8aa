#include "cli/generate.h"

#include <chrono>

namespace moerun::cli {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

std::vector<float> prefill(Engine& engine, const std::vector<int32_t>& prompt, int64_t start, int64_t seq,
                           int64_t chunk) {
  Batch batch;
  std::vector<float> last;
  const int64_t n = static_cast<int64_t>(prompt.size());
  for (int64_t i = 0; i < n; i += chunk) {
    batch.clear();
    const int64_t end = std::min(n, i + chunk);
    for (int64_t k = i; k < end; ++k) batch.add(prompt[k], static_cast<int32_t>(start + k), static_cast<int32_t>(seq), k == n - 1);
    const std::vector<float>& logits = engine.decode(batch);
    if (end == n) last = logits;
  }
  return last;
}

const std::vector<float>& decode_step(Engine& engine, int32_t token, int64_t pos, int64_t seq) {
  thread_local Batch batch;
  batch.clear();
  batch.add(token, static_cast<int32_t>(pos), static_cast<int32_t>(seq), true);
  return engine.decode(batch);
}

GenerateStats generate(Engine& engine, const std::vector<int32_t>& prompt, Sampler& sampler,
                       const GenerateOptions& opt, const std::function<bool(int32_t)>& on_token) {
  GenerateStats st;
  st.n_prompt = static_cast<int64_t>(prompt.size());
  auto t0 = std::chrono::steady_clock::now();
  std::vector<float> logits = prefill(engine, prompt, 0, 0);
  st.prefill_seconds = seconds_since(t0);

  std::vector<int32_t> history = prompt;
  const int64_t V = engine.n_vocab();
  int64_t pos = st.n_prompt;
  t0 = std::chrono::steady_clock::now();
  while (opt.n_predict < 0 || st.n_generated < opt.n_predict) {
    const int32_t tok = sampler.sample(logits.data(), V, history);
    history.push_back(tok);
    ++st.n_generated;
    if (!opt.ignore_eos && engine.tokenizer().is_eog(tok)) break;
    if (!on_token(tok)) break;
    if (pos >= engine.n_ctx()) break;  // context full: nothing more fits
    if (opt.n_predict >= 0 && st.n_generated >= opt.n_predict) break;
    logits = decode_step(engine, tok, pos, 0);
    ++pos;
  }
  st.decode_seconds = seconds_since(t0);
  return st;
}

}  // namespace moerun::cli
