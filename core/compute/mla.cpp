#include "core/compute/mla.h"

#include <algorithm>
#include <vector>

#include "core/compute/attention.h"
#include "core/compute/matmul.h"
#include "core/compute/op_profile.h"
#include "simd/float_ops.h"

namespace moerun {

void mla_attention_absorbed(const Batch& batch, const KvCache& kv, int64_t layer, const MlaShape& s,
                            const TensorView& wk_b, const TensorView& wv_b, const float* q, float* out,
                            float* qabs, float* lat, const KeySelection* sel) {
  const int64_t B = batch.size(), H = s.n_head;
  const int64_t hk = s.qk_nope + s.qk_rope, kvl = s.kv_lora_rank, kd = kvl + s.qk_rope;
  const int64_t qd = H * hk;
  // q_abs[h] = W_kb[h] · q_nope[h], then q_pe appended: [B, H, kd].
  {
    OpScope op("mla.absorb_q");
    matmul_heads(wk_b, q, qd, hk, B, qabs, H * kd, kd);
  }
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < H; ++h) {
      const float* pe = q + b * qd + h * hk + s.qk_nope;
      std::copy(pe, pe + s.qk_rope, qabs + b * H * kd + h * kd + kvl);
    }
  }
  // One shared key/value head over the latents (MQA): the value is the
  // latent part of the key row.
  const GqaShape shape{H, 1, kd, kvl, s.scale, true};
  gqa_attention(batch, kv, layer, shape, qabs, lat, sel);  // timed as "attention"
  OpScope op("mla.v_out");
  matmul_heads(wv_b, lat, H * kvl, kvl, B, out, H * s.head_v, s.head_v);
}

void mla_attention_naive(const Batch& batch, const KvCache& kv, int64_t layer, const MlaShape& s,
                         const TensorView& wk_b, const TensorView& wv_b, const float* q, float* out,
                         const KeySelection* sel) {
  const int64_t B = batch.size(), H = s.n_head;
  const int64_t hk = s.qk_nope + s.qk_rope, kvl = s.kv_lora_rank, hv = s.head_v;
  // Dequantized W_kb[h] (kvl rows of qk_nope) and W_vb[h] (hv rows of kvl).
  std::vector<float> wk(static_cast<size_t>(H * kvl * s.qk_nope)), wv(static_cast<size_t>(H * hv * kvl));
  for (int64_t r = 0; r < H * kvl; ++r) dequantize_row(wk_b, r, wk.data() + r * s.qk_nope);
  for (int64_t r = 0; r < H * hv; ++r) dequantize_row(wv_b, r, wv.data() + r * kvl);
  std::vector<float> k(static_cast<size_t>(hk)), v(static_cast<size_t>(hv)), scores;
  std::vector<int64_t> keys;  // the positions row b attends to
  for (int64_t b = 0; b < B; ++b) {
    keys.clear();
    if (sel != nullptr && sel->n_spans(b, 0) > 0) {
      for (int64_t i = 0; i < sel->n_spans(b, 0); ++i) {
        for (int64_t p = sel->row(b, 0)[i].begin; p < sel->row(b, 0)[i].end; ++p) keys.push_back(p);
      }
    } else {
      for (int64_t p = 0; p <= batch.pos[b]; ++p) keys.push_back(p);
    }
    const int64_t n = static_cast<int64_t>(keys.size());
    for (int64_t h = 0; h < H; ++h) {
      const float* qh = q + b * H * hk + h * hk;
      const float* wkh = wk.data() + h * kvl * s.qk_nope;
      const float* wvh = wv.data() + h * hv * kvl;
      scores.assign(static_cast<size_t>(n), 0.0f);
      for (int64_t p = 0; p < n; ++p) {
        const float* row = kv.k(layer, batch.seq[b], keys[p]);
        // k_nope[j] = sum_r W_kb[h][r][j] * c_kv[r]; k = [k_nope, k_pe].
        std::fill(k.begin(), k.end(), 0.0f);
        for (int64_t r = 0; r < kvl; ++r) axpy(k.data(), row[r], wkh + r * s.qk_nope, s.qk_nope);
        std::copy(row + kvl, row + kvl + s.qk_rope, k.begin() + s.qk_nope);
        scores[p] = dot_f32(qh, k.data(), hk) * s.scale;
      }
      softmax_inplace(scores.data(), n);
      float* o = out + b * H * hv + h * hv;
      std::fill(o, o + hv, 0.0f);
      for (int64_t p = 0; p < n; ++p) {
        const float* row = kv.k(layer, batch.seq[b], keys[p]);
        for (int64_t i = 0; i < hv; ++i) v[i] = dot_f32(wvh + i * kvl, row, kvl);
        axpy(o, scores[p], v.data(), hv);
      }
    }
  }
}

}  // namespace moerun
