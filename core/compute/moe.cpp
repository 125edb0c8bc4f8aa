#include "core/compute/moe.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>

#include "core/compute/thread_pool.h"
#include "core/error.h"
#include "simd/float_ops.h"

namespace moerun {

namespace {

// Indices of the k largest values, largest first; ties keep the lower index
// (a stable order, so routing is deterministic).
void top_k_indices(const float* v, int64_t n, int64_t k, int32_t* out, std::vector<int32_t>& idx) {
  idx.resize(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [v](int32_t a, int32_t b) {
    return v[a] > v[b] || (v[a] == v[b] && a < b);
  });
  std::copy(idx.begin(), idx.begin() + k, out);
}

}  // namespace

void route(const RouterConfig& cfg, const float* logits, int64_t B, int32_t* ids, float* weights) {
  const int64_t n = cfg.n_expert;
  const int64_t k = cfg.n_expert_used;
  std::vector<float> probs(static_cast<size_t>(n)), sel(static_cast<size_t>(n));
  std::vector<int32_t> idx;
  const int64_t per_group = n / cfg.n_group;
  std::vector<float> group_score(static_cast<size_t>(cfg.n_group));
  std::vector<int32_t> groups(static_cast<size_t>(cfg.n_group_used));

  for (int64_t b = 0; b < B; ++b) {
    const float* l = logits + b * n;
    for (int64_t e = 0; e < n; ++e) {
      if (!std::isfinite(l[e])) {
        fail_runtime("router produced a non-finite score (" + std::to_string(l[e]) + ") for expert " +
                     std::to_string(e) + ": the model's weights or activations are broken");
      }
    }
    if (cfg.gating == Gating::kSoftmax) {
      std::copy(l, l + n, probs.begin());
      softmax_inplace(probs.data(), n);
    } else {
      for (int64_t e = 0; e < n; ++e) probs[e] = 1.0f / (1.0f + std::exp(-l[e]));
    }
    // Selection uses the biased scores; the weights use the unbiased ones.
    for (int64_t e = 0; e < n; ++e) sel[e] = probs[e] + (cfg.selection_bias ? cfg.selection_bias[e] : 0.0f);

    if (cfg.n_group > 1) {
      // A group scores the sum of its two best members (DeepSeek-V3
      // modeling_deepseek.py); only the best n_group_used groups compete.
      for (int64_t g = 0; g < cfg.n_group; ++g) {
        const float* s = sel.data() + g * per_group;
        float a = -INFINITY, c = -INFINITY;
        for (int64_t j = 0; j < per_group; ++j) {
          if (s[j] > a) {
            c = a;
            a = s[j];
          } else if (s[j] > c) {
            c = s[j];
          }
        }
        group_score[g] = per_group >= 2 ? a + c : a;
      }
      top_k_indices(group_score.data(), cfg.n_group, cfg.n_group_used, groups.data(), idx);
      std::vector<uint8_t> keep(static_cast<size_t>(cfg.n_group), 0);
      for (int32_t g : groups) keep[g] = 1;
      for (int64_t e = 0; e < n; ++e) {
        if (!keep[e / per_group]) sel[e] = -INFINITY;
      }
    }
    int32_t* out = ids + b * k;
    float* w = weights + b * k;
    top_k_indices(sel.data(), n, k, out, idx);
    for (int64_t j = 0; j < k; ++j) w[j] = probs[out[j]];
    if (cfg.norm_weights) {
      float sum = 0;
      for (int64_t j = 0; j < k; ++j) sum += w[j];
      // llama.cpp clamps the sum at the smallest normal f16 so a row of
      // all-zero weights cannot divide by zero.
      sum = std::max(sum, 6.103515625e-5f);
      for (int64_t j = 0; j < k; ++j) w[j] /= sum;
    }
    if (cfg.weights_scale != 0.0f && cfg.weights_scale != 1.0f) {
      for (int64_t j = 0; j < k; ++j) w[j] *= cfg.weights_scale;
    }
  }
}

void split_gate_up(const TensorView& gate_up, TensorView& gate, TensorView& up) {
  const int64_t F = gate_up.ne[1] / 2;
  gate = gate_up;
  gate.ne[1] = F;
  gate.slice_bytes = static_cast<size_t>(2 * F) * gate_up.row_bytes;
  up = gate;
  up.data = gate_up.data + static_cast<size_t>(F) * gate_up.row_bytes;
}

void moe_ffn(const ExpertTensors& ex, const float* x, int64_t B, const int32_t* ids, const float* weights, int64_t k,
             float* y, MoeScratch& s, MoeStats* stats) {
  const int64_t E = ex.gate.ne[0];
  const int64_t n_expert = ex.gate.ne[2];
  // Bucket the (token, slot) pairs by expert: counts, then offsets, then order.
  s.count.assign(static_cast<size_t>(n_expert), 0);
  for (int64_t i = 0; i < B * k; ++i) s.count[ids[i]] += 1;
  s.offset.assign(static_cast<size_t>(n_expert) + 1, 0);
  for (int64_t e = 0; e < n_expert; ++e) s.offset[e + 1] = s.offset[e] + s.count[e];
  s.order.resize(static_cast<size_t>(B * k));
  s.fill.assign(s.offset.begin(), s.offset.end() - 1);
  for (int64_t i = 0; i < B * k; ++i) s.order[s.fill[ids[i]]++] = static_cast<int32_t>(i);

  s.active.clear();
  for (int64_t e = 0; e < n_expert; ++e) {
    if (s.count[e] > 0) s.active.push_back(static_cast<int32_t>(e));
  }
  const int64_t n_active = static_cast<int64_t>(s.active.size());
  // Gathered inputs and outputs of every active expert, one after another
  // (expert e's rows start at offset[e]).
  s.xe.resize(static_cast<size_t>(B * k * E));
  s.ye.resize(static_cast<size_t>(B * k * E));
  for (int64_t i = 0; i < B * k; ++i) {
    std::memcpy(s.xe.data() + i * E, x + (s.order[i] / k) * E, static_cast<size_t>(E) * sizeof(float));
  }
  auto run_expert = [&](int64_t e, FfnScratch& scratch) {
    const int64_t n = s.count[e];
    float* xe = s.xe.data() + s.offset[e] * E;
    float* ye = s.ye.data() + s.offset[e] * E;
    swiglu_ffn(ex.gate.slice(e), ex.up.slice(e), ex.down.slice(e), xe, n, ye, scratch);
  };
  // Few tokens per expert (decode): one thread per expert, each streaming
  // its own experts' weights, in one parallel region. Many (prefill): every
  // thread shares each expert's rows instead, so no thread idles.
  if (B * k <= 4 * n_active) {
    parallel_for(n_active, [&](int64_t i) {
      thread_local FfnScratch scratch;
      run_expert(s.active[i], scratch);
    });
  } else {
    for (int64_t i = 0; i < n_active; ++i) run_expert(s.active[i], s.ffn);
  }
  for (int64_t i = 0; i < B * k; ++i) {
    const int64_t slot = s.order[i];
    axpy(y + (slot / k) * E, weights[slot], s.ye.data() + i * E, E);
  }
  if (stats != nullptr) {
    for (int32_t e : s.active) {
      const TensorView g = ex.gate.slice(e), u = ex.up.slice(e), d = ex.down.slice(e);
      stats->expert_bytes += (g.row_bytes * g.ne[1]) + (u.row_bytes * u.ne[1]) + (d.row_bytes * d.ne[1]);
      stats->experts_run.emplace_back(stats->layer, e);
    }
  }
}

}  // namespace moerun
