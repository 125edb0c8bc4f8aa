// Model: what every architecture implements, and the registry entry point
// that picks one from general.architecture. The interface lives here so the
// engine never includes models/; load_model() and supported_architectures()
// are defined in models/registry.cpp. An architecture is one file in models/
// plus one row in archs.def.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/compute/batch.h"
#include "core/compute/kv_cache.h"
#include "core/compute/moe.h"
#include "core/gguf/gguf.h"

namespace moerun {

struct ModelInfo {
  std::string arch;
  std::string name;        // general.name, if any
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_expert = 0;         // routed experts per MoE layer (0: dense)
  int64_t n_expert_used = 0;    // top-k
  int64_t n_expert_shared = 0;
  int64_t n_params = 0;         // all weights
  int64_t n_params_active = 0;  // touched per token (MoE: routed top-k only)
  uint64_t bytes_active = 0;    // weight bytes read per token
  int64_t attention_top_k = 0;  // keys a query attends to when the model picks them itself (DSA); 0: all
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelInfo& info() const = 0;
  virtual KvLayout kv_layout() const = 0;
  // One forward pass. Reads and extends the KV cache of each token's
  // sequence; the caller has reserved room (KvCache::reserve). Writes one row
  // of n_vocab logits per token flagged in batch.logits, in batch order.
  virtual void forward(const Batch& batch, KvCache& kv, float* logits) = 0;
  // What the routed FFNs of the last forward pass touched (MoE models only).
  virtual MoeStats* moe_stats() { return nullptr; }
  // Switches a named implementation choice (e.g. "naive_mla": the reference
  // path tests compare with); false if the model has no such option.
  virtual bool set_option(const std::string& name, bool on) {
    (void)name;
    (void)on;
    return false;
  }
};

// Builds the model for f's architecture; throws a bad-input Error naming the
// file for an unknown architecture or a missing/misshapen tensor or key.
std::unique_ptr<Model> load_model(const GgufFile& f);
// Comma-separated list of supported architecture names (for messages).
std::string supported_architectures();

}  // namespace moerun
