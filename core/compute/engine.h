// Engine: a loaded model ready to decode — the mapped file, the model, its
// tokenizer and a KV cache — behind one decode(batch) call. Front ends (run,
// chat, batch, bench, perplexity) all go through it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/compute/batch.h"
#include "core/compute/kv_cache.h"
#include "core/compute/model.h"
#include "core/gguf/gguf.h"
#include "core/text/tokenizer.h"

namespace moerun {

struct EngineOptions {
  std::string model_path;
  LoadMode load_mode = LoadMode::kMmap;
  int64_t n_ctx = 0;  // 0: the trained context, capped at kDefaultMaxCtx
  int64_t n_seq = 1;  // KV cache sequence slots
  SparseAttnConfig sparse;  // block-sparse attention (budget 0: off; ignored by models that pick their keys)
  bool flash_attn = false;  // online softmax at every length (KvCache::set_flash_attn)
  LoadProgress load_progress;  // reading or locking the file (GgufFile::open)
  static constexpr int64_t kDefaultMaxCtx = 4096;
};

class Engine {
 public:
  explicit Engine(const EngineOptions& opt);

  const GgufFile& gguf() const { return *gguf_; }
  Model& model() { return *model_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  KvCache& kv() { return *kv_; }
  int64_t n_ctx() const { return kv_->n_ctx(); }
  int64_t n_vocab() const { return model_->info().n_vocab; }

  // Runs one forward pass; returns n_outputs rows of n_vocab logits (rows for
  // tokens flagged in batch.logits, in batch order). Throws on context
  // overflow before touching the cache.
  const std::vector<float>& decode(const Batch& batch);

 private:
  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<KvCache> kv_;
  std::vector<float> logits_;
};

}  // namespace moerun
