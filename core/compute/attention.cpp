#include "core/compute/attention.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/compute/thread_pool.h"
#include "simd/float_ops.h"

namespace moerun {

void kv_store(const Batch& batch, KvCache& kv, int64_t layer, const float* k, const float* v) {
  const int64_t kd = kv.layout().k_dim;
  const int64_t vd = kv.layout().v_dim;
  for (int64_t b = 0; b < batch.size(); ++b) {
    std::memcpy(kv.k(layer, batch.seq[b], batch.pos[b]), k + b * kd, kd * sizeof(float));
    if (vd > 0) std::memcpy(kv.v(layer, batch.seq[b], batch.pos[b]), v + b * vd, vd * sizeof(float));
  }
}

void gqa_attention(const Batch& batch, const KvCache& kv, int64_t layer, const GqaShape& s, const float* q,
                   float* out) {
  const int64_t B = batch.size();
  const int64_t group = s.n_head / s.n_head_kv;
  const int64_t qd = s.n_head * s.head_dim_k;
  const int64_t od = s.n_head * s.head_dim_v;
  // (token, head) pairs are independent: one per item.
  parallel_for(B * s.n_head, [&](int64_t bh) {
    const int64_t b = bh / s.n_head;
    const int64_t h = bh % s.n_head;
    const int64_t kvh = h / group;
    const int64_t seq = batch.seq[b];
    const int64_t n = batch.pos[b] + 1;
    thread_local std::vector<float> scores;
    scores.resize(static_cast<size_t>(n));
    const float* qh = q + b * qd + h * s.head_dim_k;
    for (int64_t p = 0; p < n; ++p) {
      scores[p] = dot_f32(qh, kv.k(layer, seq, p) + kvh * s.head_dim_k, s.head_dim_k) * s.scale;
    }
    softmax_inplace(scores.data(), n);
    float* o = out + b * od + h * s.head_dim_v;
    std::fill(o, o + s.head_dim_v, 0.0f);
    for (int64_t p = 0; p < n; ++p) {
      const float* v = s.values_in_keys ? kv.k(layer, seq, p) + kvh * s.head_dim_k : kv.v(layer, seq, p) + kvh * s.head_dim_v;
      axpy(o, scores[p], v, s.head_dim_v);
    }
  });
}

}  // namespace moerun
