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
      // Summed in double and rounded once, as ggml_sum_rows does.
      double sum_d = 0;
      for (int64_t j = 0; j < k; ++j) sum_d += w[j];
      float sum = static_cast<float>(sum_d);
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

namespace {

// (token, slot) rows from which gathering them is shared over the threads
// (a decode step's few rows are not worth a parallel region).
constexpr int64_t kParallelGather = 64;

// Work items of one decode phase: row chunks of every job's matrices (a job
// is a chosen expert or the shared expert), ~8 per thread over the phase, at
// least 64 rows (a few tens of KB) and a multiple of 4 (the GEMV row tiles)
// each. A thread that is preempted leaves its chunks to the others, and the
// threads stream rows of the same experts at once.
void plan_chunks(const std::vector<MoeScratch::Job>& jobs, bool down, std::vector<MoeScratch::Chunk>& out) {
  int64_t total = 0;
  for (const MoeScratch::Job& j : jobs) total += down ? j.down.ne[1] : j.gate.ne[1] + j.up.ne[1];
  const int64_t per_want = std::max<int64_t>(64, total / (int64_t{threads()} * 8));
  out.clear();
  for (int32_t ji = 0; ji < static_cast<int32_t>(jobs.size()); ++ji) {
    for (int32_t m = 0; m < (down ? 1 : 2); ++m) {
      const int64_t rows = down ? jobs[ji].down.ne[1] : jobs[ji].gate.ne[1];
      const int64_t per = std::min(rows, (per_want + 3) / 4 * 4);
      for (int64_t r = 0; r < rows; r += per) {
        out.push_back({ji, m, static_cast<int32_t>(r), static_cast<int32_t>(std::min(rows, r + per))});
      }
    }
  }
}

// A step's shapes (set by start_jobs): E the model width, F a routed
// expert's rows, Fs the shared expert's (0: none), slots = tokens x k, row
// the bytes of one quantized token.
struct Step {
  int64_t E, F, Fs, slots;
  size_t row;
};

// The jobs of a step (decode or prefill): the tokens quantized once into
// s.qx, each slot's row gathered by expert into s.qxe, the gate/up outputs
// sized (the slots' rows of F, then the tokens' rows of Fs), one job per
// active expert and one for the shared expert (the last).
Step start_jobs(const ExpertTensors& ex, const SharedExpert* shared, const float* x, int64_t B, int64_t k,
                MoeScratch& s) {
  const int64_t E = ex.gate.ne[0], F = ex.gate.ne[1];
  const int64_t slots = B * k;
  const int64_t Fs = shared != nullptr ? shared->gate.ne[1] : 0;
  quantize_rows_for(ex.gate.type, x, E, E, B, s.qx);
  const size_t row = s.qx.row;
  s.qxe.resize(row * static_cast<size_t>(slots));
  uint8_t* const qxe = s.qxe.data();
  const uint8_t* const qx = s.qx.bytes.data();
  const int32_t* const order = s.order.data();
  auto gather = [&](int64_t i) { std::memcpy(qxe + i * row, qx + (order[i] / k) * row, row); };
  if (slots > kParallelGather) {
    parallel_for(slots, gather);
  } else {
    for (int64_t i = 0; i < slots; ++i) gather(i);
  }
  s.ge.resize(static_cast<size_t>(slots * F + B * Fs));
  s.ue.resize(s.ge.size());
  s.ys.resize(static_cast<size_t>(shared != nullptr ? B * E : 0));
  s.jobs.clear();
  for (int32_t e : s.active) {
    const int64_t o = s.offset[e];
    s.jobs.push_back({ex.gate.slice(e), ex.up.slice(e), ex.down.slice(e), qxe + o * row, s.count[e], o * F, F,
                      s.ye.data() + o * E});
  }
  if (shared != nullptr) {
    s.jobs.push_back({shared->gate, shared->up, shared->down, s.qx.at(0), B, slots * F, Fs, s.ys.data()});
  }
  return {E, F, Fs, slots, row};
}

// A job's input rows for one of its matrices: the activation format of
// weights w, K long, `stride` bytes apart from `a`.
struct JobInput {
  QType w;
  const uint8_t* a;
  size_t stride;
  int64_t K;
};

// Its gate/up input: the gathered tokens.
JobInput gate_input(const ExpertTensors& ex, const MoeScratch::Job& j, const Step& st) {
  return {ex.gate.type, j.a, st.row, st.E};
}

// Its down input: its rows of s.qh, or the shared expert's s.qhs.
JobInput down_input(const MoeScratch& s, const MoeScratch::Job& j, const Step& st) {
  if (st.Fs > 0 && &j == &s.jobs.back()) return {j.down.type, s.qhs.at(0), s.qhs.row, st.Fs};
  return {j.down.type, s.qh.at(j.h0 / st.F), s.qh.row, st.F};
}

// Decode: the tokens are quantized once (not once per expert and matrix),
// then three parallel phases over every job at once: gate and up rows;
// SwiGLU and quantization of each product; down rows. A routed expert's
// outputs go to s.ye, one row per (token, slot) as the prefill path leaves
// them; the shared expert's to s.ys, one row per token.
void moe_decode(const ExpertTensors& ex, const SharedExpert* shared, const float* x, int64_t B, int64_t k,
                MoeScratch& s) {
  const Step st = start_jobs(ex, shared, x, B, k, s);
  std::vector<MoeScratch::Chunk>& chunks = s.chunks;  // not thread_local: the workers read it
  const MoeScratch::Job* jobs = s.jobs.data();
  plan_chunks(s.jobs, false, chunks);
  parallel_for(static_cast<int64_t>(chunks.size()), [&](int64_t c) {
    const MoeScratch::Chunk& ch = chunks[c];
    const MoeScratch::Job& j = jobs[ch.job];
    float* out = (ch.m == 0 ? s.ge.data() : s.ue.data()) + j.h0;
    matmul_rows_range(ch.m == 0 ? j.gate : j.up, j.a, st.row, j.n, ch.r0, ch.r1, out, j.ld);
  });

  // SwiGLU, quantized for down: the slots' rows, then the shared rows.
  silu_mul(s.ge.data(), s.ue.data(), s.ge.data(), static_cast<int64_t>(s.ge.size()));
  quantize_rows_for(ex.down.type, s.ge.data(), st.F, st.F, st.slots, s.qh);
  if (shared != nullptr) quantize_rows_for(shared->down.type, s.ge.data() + st.slots * st.F, st.Fs, st.Fs, B, s.qhs);

  plan_chunks(s.jobs, true, chunks);
  parallel_for(static_cast<int64_t>(chunks.size()), [&](int64_t c) {
    const MoeScratch::Chunk& ch = chunks[c];
    const MoeScratch::Job& j = jobs[ch.job];
    const JobInput in = down_input(s, j, st);
    matmul_rows_range(j.down, in.a, in.stride, j.n, ch.r0, ch.r1, j.y, st.E);
  });
}

// Work items of a prefill phase: 64-row tiles (a GEMM tile's weights stay
// in L2 while every column passes) of every job's matrices.
void plan_tiles(const std::vector<MoeScratch::Job>& jobs, bool down, std::vector<MoeScratch::Chunk>& out) {
  constexpr int32_t kTile = 64;
  out.clear();
  for (int32_t ji = 0; ji < static_cast<int32_t>(jobs.size()); ++ji) {
    const int32_t rows = static_cast<int32_t>(down ? jobs[ji].down.ne[1] : jobs[ji].gate.ne[1]);
    for (int32_t m = 0; m < (down ? 1 : 2); ++m) {
      for (int32_t r = 0; r < rows; r += kTile) out.push_back({ji, m, r, std::min(rows, r + kTile)});
    }
  }
}

// Packs each job's input (in(job)) into one buffer, the jobs in parallel;
// off(job) gets its offset, or SIZE_MAX where it has too few rows for the
// packed GEMM (or the ISA none) and keeps its rows.
template <class In, class Off>
void pack_jobs(std::vector<MoeScratch::Job>& jobs, In in, Off off, std::vector<uint8_t>& buf) {
  size_t total = 0;
  for (MoeScratch::Job& j : jobs) {
    const JobInput p = in(j);
    const size_t bytes = packed_rows_bytes(p.w, j.n, p.K);
    off(j) = bytes > 0 ? total : SIZE_MAX;
    total += bytes;
  }
  buf.resize(total);
  uint8_t* const out = buf.data();
  MoeScratch::Job* const js = jobs.data();
  parallel_for(static_cast<int64_t>(jobs.size()), [&](int64_t i) {
    MoeScratch::Job& j = js[i];
    if (off(j) == SIZE_MAX) return;
    const JobInput p = in(j);
    pack_rows(p.w, p.a, p.stride, j.n, p.K, out + off(j));
  });
}

// Rows [r0, r1) of w for a job's n input rows: from their packed form
// (offset `off` in buf) where pack_jobs made one, else from the rows.
void run_tile(const TensorView& w, const std::vector<uint8_t>& buf, size_t off, const JobInput& in, int64_t n,
              int64_t r0, int64_t r1, float* y, int64_t ldy) {
  if (off != SIZE_MAX) {
    matmul_packed_range(w, buf.data() + off, n, r0, r1, y, ldy);
  } else {
    matmul_rows_range(w, in.a, in.stride, n, r0, r1, y, ldy);
  }
}

// Prefill: decode's three phases over GEMM tiles. Every job's gate and up
// tiles share one parallel region; then SwiGLU and quantization of every
// product row; then every job's down tiles; the inputs of each phase are
// quantized and packed once per job, the jobs in parallel. (Experts one
// after another, each spread over the threads, left a thread waiting while
// the other packed or ran SwiGLU, at ~5 barriers per expert.) The kernels
// are the ones matmul runs and each output element is computed alike, so
// the floats do not change.
void moe_prefill(const ExpertTensors& ex, const SharedExpert* shared, const float* x, int64_t B, int64_t k,
                 MoeScratch& s) {
  const Step st = start_jobs(ex, shared, x, B, k, s);
  auto gate_in = [&](const MoeScratch::Job& j) { return gate_input(ex, j, st); };
  auto down_in = [&](const MoeScratch::Job& j) { return down_input(s, j, st); };
  pack_jobs(s.jobs, gate_in, [](MoeScratch::Job& j) -> size_t& { return j.pin; }, s.pin);

  const MoeScratch::Job* jobs = s.jobs.data();
  std::vector<MoeScratch::Chunk>& chunks = s.chunks;  // not thread_local: the workers read it
  plan_tiles(s.jobs, false, chunks);
  parallel_for(static_cast<int64_t>(chunks.size()), [&](int64_t c) {
    const MoeScratch::Chunk& ch = chunks[c];
    const MoeScratch::Job& j = jobs[ch.job];
    float* out = (ch.m == 0 ? s.ge.data() : s.ue.data()) + j.h0;
    run_tile(ch.m == 0 ? j.gate : j.up, s.pin, j.pin, gate_in(j), j.n, ch.r0, ch.r1, out, j.ld);
  });

  // SwiGLU and its quantization for down, row by row: the slots' rows of F,
  // then the tokens' rows of Fs.
  prepare_rows_for(ex.down.type, st.F, st.slots, s.qh);
  prepare_rows_for(shared != nullptr ? shared->down.type : ex.down.type, st.Fs, shared != nullptr ? B : 0, s.qhs);
  parallel_for(st.slots + s.qhs.B, [&](int64_t r) {
    const bool sh = r >= st.slots;
    const int64_t off = sh ? st.slots * st.F + (r - st.slots) * st.Fs : r * st.F;
    float* g = s.ge.data() + off;
    silu_mul(g, s.ue.data() + off, g, sh ? st.Fs : st.F);
    quantize_row_for(sh ? s.qhs : s.qh, sh ? r - st.slots : r, g);
  });
  pack_jobs(s.jobs, down_in, [](MoeScratch::Job& j) -> size_t& { return j.ph; }, s.ph);

  plan_tiles(s.jobs, true, chunks);
  parallel_for(static_cast<int64_t>(chunks.size()), [&](int64_t c) {
    const MoeScratch::Chunk& ch = chunks[c];
    const MoeScratch::Job& j = jobs[ch.job];
    run_tile(j.down, s.ph, j.ph, down_in(j), j.n, ch.r0, ch.r1, j.y, st.E);
  });
}

}  // namespace

void moe_ffn(const ExpertTensors& ex, const float* x, int64_t B, const int32_t* ids, const float* weights, int64_t k,
             float* y, MoeScratch& s, MoeStats* stats, const SharedExpert* shared) {
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
  // Outputs of every active expert, one after another (expert e's rows start
  // at offset[e]); position of each (token, slot) among them.
  s.ye.resize(static_cast<size_t>(B * k * E));
  s.fill.resize(static_cast<size_t>(B * k));
  for (int64_t i = 0; i < B * k; ++i) s.fill[s.order[i]] = static_cast<int32_t>(i);
  // Few tokens per expert (decode): row chunks of every chosen expert at
  // once (moe_decode); many (prefill): GEMM tiles of every expert at once
  // (moe_prefill). Both quantize the tokens once for every gate and up, so
  // they need one format for all of them; otherwise experts one after
  // another, each matmul spread over the threads.
  const bool one_format = ex.gate.type == ex.up.type && (shared == nullptr || (shared->gate.type == ex.gate.type &&
                                                                                shared->up.type == ex.gate.type));
  if (one_format && B * k <= 4 * n_active) {
    moe_decode(ex, shared, x, B, k, s);
  } else if (one_format) {
    moe_prefill(ex, shared, x, B, k, s);
  } else {
    if (shared != nullptr) {
      s.ys.resize(static_cast<size_t>(B * E));
      swiglu_ffn(shared->gate, shared->up, shared->down, x, B, s.ys.data(), s.ffn);
    }
    // Each expert's tokens gathered into consecutive rows.
    s.xe.resize(static_cast<size_t>(B * k * E));
    float* const xe = s.xe.data();
    const int32_t* const order = s.order.data();
    parallel_for(B, [&](int64_t b) {
      for (int64_t j = 0; j < k; ++j) {
        const int64_t i = s.fill[b * k + j];
        std::memcpy(xe + i * E, x + (order[i] / k) * E, static_cast<size_t>(E) * sizeof(float));
      }
    });
    for (int64_t i = 0; i < n_active; ++i) {
      const int64_t e = s.active[i];
      swiglu_ffn(ex.gate.slice(e), ex.up.slice(e), ex.down.slice(e), s.xe.data() + s.offset[e] * E, s.count[e],
                 s.ye.data() + s.offset[e] * E, s.ffn);
    }
  }
  // Each token's experts added in its top-k order (as llama.cpp sums them),
  // tokens spread over the threads.
  const float* const ye = s.ye.data();
  const int32_t* const pos = s.fill.data();
  auto add_token = [&](int64_t b) {
    for (int64_t j = 0; j < k; ++j) axpy(y + b * E, weights[b * k + j], ye + pos[b * k + j] * E, E);
  };
  if (B == 1) {
    add_token(0);
  } else {
    parallel_for(B, add_token);
  }
  // The shared expert last: llama.cpp adds it to the routed sum.
  if (shared != nullptr) add_inplace(y, s.ys.data(), B * E);
  if (stats != nullptr) {
    for (int32_t e : s.active) {
      const TensorView g = ex.gate.slice(e), u = ex.up.slice(e), d = ex.down.slice(e);
      stats->expert_bytes += (g.row_bytes * g.ne[1]) + (u.row_bytes * u.ne[1]) + (d.row_bytes * d.ne[1]);
      stats->experts_run.emplace_back(stats->layer, e);
    }
  }
}

}  // namespace moerun
