#include "models/hparams.h"

#include "core/error.h"

namespace moerun {

CommonHparams read_common_hparams(const GgufFile& f, int64_t n_vocab) {
  CommonHparams h;
  h.arch = f.architecture();
  const std::string a = h.arch + ".";
  auto positive = [&](const std::string& key, int64_t v) {
    if (v <= 0) fail(f.path() + ": key '" + key + "' must be positive (got " + std::to_string(v) + ")");
    return v;
  };
  h.n_vocab = n_vocab;
  h.context_length = positive(a + "context_length", f.get_int(a + "context_length"));
  h.embedding_length = positive(a + "embedding_length", f.get_int(a + "embedding_length"));
  h.block_count = positive(a + "block_count", f.get_int(a + "block_count"));
  // Loaders size per-block tables from this before binding any tensor; a
  // damaged count near 2^32 must fail here, not as an allocation failure.
  if (static_cast<uint64_t>(h.block_count) > f.tensors().size()) {
    fail(f.path() + ": key '" + a + "block_count' = " + std::to_string(h.block_count) + " but the file holds only " +
         std::to_string(f.tensors().size()) + " tensors");
  }
  h.feed_forward_length = f.get_int(a + "feed_forward_length", 0);
  h.head_count = positive(a + "attention.head_count", f.get_int(a + "attention.head_count"));
  h.head_count_kv = positive(a + "attention.head_count_kv", f.get_int(a + "attention.head_count_kv", h.head_count));
  if (h.head_count % h.head_count_kv != 0) {
    fail(f.path() + ": attention.head_count " + std::to_string(h.head_count) +
         " is not a multiple of attention.head_count_kv " + std::to_string(h.head_count_kv));
  }
  h.key_length = positive(a + "attention.key_length",
                          f.get_int(a + "attention.key_length", h.embedding_length / h.head_count));
  h.value_length = positive(a + "attention.value_length", f.get_int(a + "attention.value_length", h.key_length));
  h.layer_norm_rms_epsilon = static_cast<float>(f.get_float(a + "attention.layer_norm_rms_epsilon", 1e-5));

  h.rope.n_rot = f.get_int(a + "rope.dimension_count", h.key_length);
  if (h.rope.n_rot <= 0 || h.rope.n_rot > h.key_length || h.rope.n_rot % 2 != 0) {
    fail(f.path() + ": key '" + a + "rope.dimension_count' = " + std::to_string(h.rope.n_rot) +
         " must be even and at most the head size " + std::to_string(h.key_length));
  }
  h.rope.base = static_cast<float>(f.get_float(a + "rope.freq_base", 10000.0));
  const std::string scaling = f.get_string(a + "rope.scaling.type", "none");
  double factor = f.get_float(a + "rope.scaling.factor", f.get_float(a + "rope.scale_linear", 1.0));
  if (scaling == "none" || factor <= 0) factor = 1.0;
  if (scaling != "none" && scaling != "linear" && scaling != "yarn") {
    fail(f.path() + ": unsupported rope scaling type '" + scaling + "'");
  }
  h.rope.freq_scale = static_cast<float>(1.0 / factor);
  h.rope.n_ctx_orig = f.get_int(a + "rope.scaling.original_context_length", h.context_length);
  if (scaling == "yarn") h.rope.ext_factor = 1.0f;
  return h;
}

}  // namespace moerun
