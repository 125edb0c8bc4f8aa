#include "core/compute/engine.h"

#include <algorithm>
#include <map>

#include "core/error.h"

namespace moerun {

Engine::Engine(const EngineOptions& opt) {
  gguf_ = GgufFile::open(opt.model_path, opt.load_mode, opt.load_progress);
  model_ = load_model(*gguf_);
  tokenizer_ = Tokenizer::from_gguf(*gguf_);
  int64_t n_ctx = opt.n_ctx;
  if (n_ctx <= 0) n_ctx = std::min(model_->info().n_ctx_train, EngineOptions::kDefaultMaxCtx);
  kv_ = std::make_unique<KvCache>(model_->kv_layout(), n_ctx, opt.n_seq);
  if (model_->info().attention_top_k == 0) kv_->set_sparse(opt.sparse);
  kv_->set_flash_attn(opt.flash_attn);
}

const std::vector<float>& Engine::decode(const Batch& batch) {
  // Check every sequence fits before writing anything.
  std::map<int32_t, int64_t> need;
  for (int64_t b = 0; b < batch.size(); ++b) {
    if (batch.seq[b] < 0 || batch.seq[b] >= kv_->n_seq()) {
      fail("sequence id " + std::to_string(batch.seq[b]) + " is out of range");
    }
    if (batch.pos[b] < 0) fail("negative position " + std::to_string(batch.pos[b]));
    int64_t& n = need[batch.seq[b]];
    n = std::max<int64_t>(n, batch.pos[b] + 1);
  }
  for (const auto& [seq, n] : need) kv_->reserve(seq, n);
  logits_.resize(static_cast<size_t>(batch.n_outputs() * n_vocab()));
  model_->forward(batch, *kv_, logits_.data());
  for (const auto& [seq, n] : need) kv_->set_len(seq, std::max(kv_->seq_len(seq), n));
  return logits_;
}

}  // namespace moerun
