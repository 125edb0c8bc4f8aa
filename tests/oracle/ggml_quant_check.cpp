// ggml_quant_check: moerun's scalar block formats (quant/) against the real
// ggml of the llama.cpp oracle (DESIGN.md §7). Built by tests/oracle/setup.sh
// with moerun's quant/*.cpp and linked against libggml-base; the CPU backend
// (for vec_dot and the activation quantizers) is opened at run time from the
// library folder next to libggml-base.so: the variant the oracle runs, the
// portable libggml-cpu-x64.so, or libggml-cpu-$MOERUN_ORACLE_CPU.so (e.g.
// haswell; "best": the one llama.cpp itself would load on this machine).
//
// For every format in quant/formats.def it checks, on random data:
//   layout    ggml_type_size / ggml_blck_size / ggml_type_name
//   dequant   bitwise-equal floats on random valid blocks (ggml's to_float,
//             or the exported dequantize_row_* where the table has none)
//   quant     byte-equal blocks from ggml's from_float_ref (quantize_row_*_ref)
//             on per-block-scaled N(0,1) rows plus zero/constant/spike rows
//             and the boundary rows below
//   act       byte-equal blocks from the CPU backend's from_float for the
//             activation formats (what llama.cpp runs on activations) and
//             moerun's quantize_act, on the quant rows plus rows whose
//             values sit next to a rounding boundary (x * 127 / amax near
//             k + 1/2), where the AVX builds' rounding differs from _ref
//   vec_dot   |ours - ggml's| <= 1e-5 * |w| |a| on the same quantized rows
// and bitwise f16/bf16 conversions (all f16 values, random f32 patterns).
//
// Usage: ggml_quant_check [seed]   Prints one line per check; exit status 0
// when everything matches, 1 on any mismatch, 2 when ggml cannot be loaded.
#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "simd/ggml_exp.h"

#include "ggml-cpu.h"
#include "ggml.h"
#include "quant/all_formats.h"
#include "quant/format.h"

namespace {

using namespace moerun;

int g_failures = 0;

void report(const std::string& what, bool ok, const std::string& detail) {
  std::printf("%-6s %-22s %s\n", ok ? "ok" : "FAIL", what.c_str(),
              detail.c_str());
  if (!ok) ++g_failures;
}

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), f, a, b, c);
  return buf;
}

// The CPU backend's per-type table, from a dlopen'ed libggml-cpu-*.so.
using CpuTraitsFn = const ggml_type_traits_cpu* (*)(ggml_type);
CpuTraitsFn g_cpu_traits = nullptr;
void* g_cpu_lib = nullptr;

// The CPU variant llama.cpp would load from `dir`: the libggml-cpu-*.so whose
// ggml_backend_score is highest (0 means this CPU cannot run it).
std::string best_cpu_variant(const std::string& dir) {
  std::string best;
  int best_score = 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return best;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (!name.starts_with("libggml-cpu-") || !name.ends_with(".so")) continue;
    void* lib = dlopen((dir + name).c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) continue;
    auto score = reinterpret_cast<int (*)()>(dlsym(lib, "ggml_backend_score"));
    const int s = score != nullptr ? score() : 0;
    if (s > best_score || (s == best_score && s > 0 && name < best)) {
      best_score = s;
      best = name;
    }
  }
  closedir(d);
  return best;
}

bool load_cpu_backend() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&ggml_get_type_traits), &info) ||
      info.dli_fname == nullptr) {
    return false;
  }
  std::string dir = info.dli_fname;
  dir = dir.substr(0, dir.find_last_of('/') + 1);
  // The variant the oracle runs (llama_oracle.cpp): the portable x64 one
  // unless MOERUN_ORACLE_CPU names another, or "best".
  const char* env = std::getenv("MOERUN_ORACLE_CPU");
  const std::string variant = env != nullptr && *env != '\0' ? env : "x64";
  const std::string name = variant != "best" ? "libggml-cpu-" + variant + ".so" : best_cpu_variant(dir);
  if (name.empty()) {
    std::fprintf(stderr, "no libggml-cpu-*.so in %s runs on this CPU\n", dir.c_str());
    return false;
  }
  std::printf("cpu backend %s\n", name.c_str());
  void* lib = dlopen((dir + name).c_str(), RTLD_NOW);
  if (lib == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return false;
  }
  g_cpu_lib = lib;
  auto init = reinterpret_cast<void (*)()>(dlsym(lib, "ggml_cpu_init"));
  g_cpu_traits =
      reinterpret_cast<CpuTraitsFn>(dlsym(lib, "ggml_get_type_traits_cpu"));
  if (init == nullptr || g_cpu_traits == nullptr) return false;
  init();  // fills the CPU backend's f16 tables
  return true;
}

// ggml's type table leaves some rows empty (Q8_K has neither to_float nor
// from_float_ref) although libggml-base exports the functions under their
// ggml-quants.h names; look those up by name.
ggml_to_float_t ggml_dequantize(ggml_type t) {
  if (auto fn = ggml_get_type_traits(t)->to_float) return fn;
  const std::string sym = std::string("dequantize_row_") + ggml_type_name(t);
  return reinterpret_cast<ggml_to_float_t>(dlsym(RTLD_DEFAULT, sym.c_str()));
}

ggml_from_float_t ggml_quantize_ref(ggml_type t) {
  if (auto fn = ggml_get_type_traits(t)->from_float_ref) return fn;
  const std::string sym = std::string("quantize_row_") + ggml_type_name(t) + "_ref";
  return reinterpret_cast<ggml_from_float_t>(dlsym(RTLD_DEFAULT, sym.c_str()));
}

std::mt19937 g_rng;

float normal() {
  static std::normal_distribution<float> dist(0.0f, 1.0f);
  return dist(g_rng);
}

// A random finite f16 scale with magnitude in about [1e-3, 10], either sign.
uint16_t random_scale() {
  std::uniform_real_distribution<float> log_mag(std::log(1e-3f),
                                                std::log(10.0f));
  const float v = std::exp(log_mag(g_rng));
  return f32_to_f16((g_rng() & 1) ? v : -v);
}

// Random bytes for `blocks` blocks of f, with every scale field replaced by a
// finite value so both sides decode numbers rather than NaN patterns.
std::vector<uint8_t> random_blocks(const FormatTraits& f, int64_t blocks) {
  std::vector<uint8_t> q(static_cast<size_t>(blocks) * f.block_bytes);
  for (auto& b : q) b = static_cast<uint8_t>(g_rng());
  for (int64_t i = 0; i < blocks; ++i) {
    uint8_t* p = q.data() + i * f.block_bytes;
    switch (f.type) {
      case QType::F32: {
        const float v = normal() * 10.0f;
        std::memcpy(p, &v, 4);
        break;
      }
      case QType::F16:
      case QType::BF16: {
        uint16_t h;
        std::memcpy(&h, p, 2);
        const uint16_t exp_mask = f.type == QType::F16 ? 0x7C00 : 0x7F80;
        if ((h & exp_mask) == exp_mask) h &= static_cast<uint16_t>(~0x4000);
        std::memcpy(p, &h, 2);
        break;
      }
      case QType::Q4_0: reinterpret_cast<BlockQ4_0*>(p)->d = random_scale(); break;
      case QType::Q5_0: reinterpret_cast<BlockQ5_0*>(p)->d = random_scale(); break;
      case QType::Q8_0: reinterpret_cast<BlockQ8_0*>(p)->d = random_scale(); break;
      case QType::Q4_1: {
        auto* b = reinterpret_cast<BlockQ4_1*>(p);
        b->d = random_scale();
        b->m = random_scale();
        break;
      }
      case QType::Q5_1: {
        auto* b = reinterpret_cast<BlockQ5_1*>(p);
        b->d = random_scale();
        b->m = random_scale();
        break;
      }
      case QType::Q8_1: {
        auto* b = reinterpret_cast<BlockQ8_1*>(p);
        b->d = random_scale();
        b->s = random_scale();
        break;
      }
      case QType::Q4_K: {
        auto* b = reinterpret_cast<BlockQ4_K*>(p);
        b->d = random_scale();
        b->dmin = random_scale();
        break;
      }
      case QType::Q5_K: {
        auto* b = reinterpret_cast<BlockQ5_K*>(p);
        b->d = random_scale();
        b->dmin = random_scale();
        break;
      }
      case QType::Q6_K: reinterpret_cast<BlockQ6_K*>(p)->d = random_scale(); break;
      case QType::Q8_K: {
        auto* b = reinterpret_cast<BlockQ8_K*>(p);
        b->d = f16_to_f32(random_scale());
        break;
      }
    }
  }
  return q;
}

// Rows to quantize: per-block-scaled N(0,1), then a zero block, a constant
// block, a one-spike block and a block of tiny values.
std::vector<float> test_row(const FormatTraits& f, int64_t blocks) {
  const int64_t bs = std::max<int64_t>(f.block_size, 32);
  std::vector<float> x(static_cast<size_t>(bs * blocks));
  std::uniform_real_distribution<float> log_scale(std::log(0.01f),
                                                  std::log(100.0f));
  for (int64_t b = 0; b < blocks; ++b) {
    float* y = x.data() + b * bs;
    const float s = std::exp(log_scale(g_rng));
    switch (b) {
      case 0: for (int64_t i = 0; i < bs; ++i) y[i] = 0.0f; break;
      case 1: for (int64_t i = 0; i < bs; ++i) y[i] = -0.3f; break;
      case 2:
        for (int64_t i = 0; i < bs; ++i) y[i] = 0.0f;
        y[bs / 3] = 5.0f;
        break;
      case 3: for (int64_t i = 0; i < bs; ++i) y[i] = 1e-6f * normal(); break;
      default: for (int64_t i = 0; i < bs; ++i) y[i] = s * normal(); break;
    }
  }
  return x;
}

// Rows of blocks whose values sit next to a level boundary: element 0 is
// +-amax, the others (k + 1/2) * amax / 127 for random k, so x * 127 / amax
// lands within an ulp or two of k + 1/2 and the multiplier (127/amax or
// 1/(amax/127)) and the tie rule decide the level. Q8_K scales by -127/max
// (its signed extreme), which puts these values at the same halves.
std::vector<float> boundary_row(const FormatTraits& f, int64_t blocks) {
  const int64_t bs = std::max<int64_t>(f.block_size, 32);
  std::vector<float> x(static_cast<size_t>(bs * blocks));
  std::uniform_real_distribution<float> log_amax(std::log(1e-3f), std::log(1e3f));
  std::uniform_int_distribution<int> level(-127, 126);
  for (int64_t b = 0; b < blocks; ++b) {
    float* y = x.data() + b * bs;
    const float amax = std::exp(log_amax(g_rng));
    const float step = amax / 127;
    y[0] = (g_rng() & 1) ? amax : -amax;
    for (int64_t i = 1; i < bs; ++i) y[i] = (static_cast<float>(level(g_rng)) + 0.5f) * step;
  }
  return x;
}

// Counts blocks whose bytes differ; for those, the largest difference of the
// dequantized values relative to the block's largest |x|.
struct BlockDiff {
  int64_t blocks_differing = 0;
  double max_rel_value_diff = 0;
};

BlockDiff compare_blocks(const FormatTraits& f, const std::vector<uint8_t>& a,
                         const std::vector<uint8_t>& b,
                         const std::vector<float>& x, int64_t n) {
  BlockDiff d;
  const int64_t blocks = n / f.block_size;
  std::vector<float> ya(f.block_size), yb(f.block_size);
  for (int64_t i = 0; i < blocks; ++i) {
    const uint8_t* pa = a.data() + i * f.block_bytes;
    const uint8_t* pb = b.data() + i * f.block_bytes;
    if (std::memcmp(pa, pb, f.block_bytes) == 0) continue;
    ++d.blocks_differing;
    f.dequantize(pa, ya.data(), f.block_size);
    f.dequantize(pb, yb.data(), f.block_size);
    double amax = 0, diff = 0;
    for (int64_t j = 0; j < f.block_size; ++j) {
      amax = std::max(amax, std::fabs(static_cast<double>(x[i * f.block_size + j])));
      diff = std::max(diff, std::fabs(static_cast<double>(ya[j]) - yb[j]));
    }
    d.max_rel_value_diff = std::max(d.max_rel_value_diff, amax > 0 ? diff / amax : diff);
  }
  return d;
}

void check_layout(const FormatTraits& f, const ggml_type t) {
  const std::string gname = ggml_type_name(t);
  std::string lower = gname;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool ok = ggml_type_size(t) == f.block_bytes &&
                  ggml_blck_size(t) == f.block_size && lower == f.name;
  report(std::string(f.name) + " layout", ok,
         "ggml " + gname + " " + std::to_string(ggml_blck_size(t)) + "/" +
             std::to_string(ggml_type_size(t)) + " bytes, moerun " +
             std::to_string(f.block_size) + "/" + std::to_string(f.block_bytes));
}

void check_dequantize(const FormatTraits& f, const ggml_type t) {
  const int64_t blocks = 4096 / std::max<int64_t>(1, f.block_size / 32) + 1;
  const int64_t n = blocks * f.block_size;
  auto q = random_blocks(f, blocks);
  std::vector<float> ours(n), theirs(n);
  f.dequantize(q.data(), ours.data(), n);
  if (f.type == QType::F32) {
    report(std::string(f.name) + " dequantize", std::memcmp(ours.data(), q.data(), n * 4) == 0,
           "copy (ggml has no to_float for f32)");
    return;
  }
  const ggml_to_float_t to_float = ggml_dequantize(t);
  if (to_float == nullptr && f.type == QType::Q8_1) {
    // ggml has no Q8_1 to_float; its d and qs decode as a Q8_0 block.
    std::vector<BlockQ8_0> as_q8_0(blocks);
    for (int64_t i = 0; i < blocks; ++i) {
      const auto* b = reinterpret_cast<const BlockQ8_1*>(q.data()) + i;
      as_q8_0[i].d = b->d;
      std::memcpy(as_q8_0[i].qs, b->qs, 32);
    }
    ggml_dequantize(GGML_TYPE_Q8_0)(as_q8_0.data(), theirs.data(), n);
  } else if (to_float != nullptr) {
    to_float(q.data(), theirs.data(), n);
  } else {
    report(std::string(f.name) + " dequantize", false, "ggml has no to_float");
    return;
  }
  int64_t differ = 0;
  double max_diff = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::bit_cast<uint32_t>(ours[i]) != std::bit_cast<uint32_t>(theirs[i])) {
      ++differ;
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(ours[i]) - theirs[i]));
    }
  }
  report(std::string(f.name) + " dequantize", differ == 0,
         fmt("%.0f random blocks, %.0f values differ (max |diff| %g)",
             static_cast<double>(blocks), static_cast<double>(differ), max_diff));
}

void check_quantize(const FormatTraits& f, const ggml_type t) {
  const ggml_from_float_t from_float_ref = ggml_quantize_ref(t);
  const int64_t blocks = 4096 / std::max<int64_t>(1, f.block_size / 32) + 4;
  auto x = test_row(f, blocks);
  const auto edge = boundary_row(f, blocks);
  x.insert(x.end(), edge.begin(), edge.end());
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> ours(row_bytes(f.type, n), 0), theirs(row_bytes(f.type, n), 0);
  f.quantize(x.data(), ours.data(), n);
  if (from_float_ref == nullptr) {
    report(std::string(f.name) + " quantize", f.type == QType::F32,
           "ggml has no from_float_ref");
    return;
  }
  from_float_ref(x.data(), theirs.data(), n);
  const BlockDiff d = compare_blocks(f, ours, theirs, x, n);
  report(std::string(f.name) + " quantize", d.blocks_differing == 0,
         fmt("%.0f of %.0f blocks differ (max value diff %g of block max)",
             static_cast<double>(d.blocks_differing),
             static_cast<double>(n / f.block_size), d.max_rel_value_diff));
}

// The CPU backend: activation quantizer for the activation formats, vec_dot
// for every weight format.
void check_cpu(const FormatTraits& f, const ggml_type t) {
  const ggml_type_traits_cpu* ct = g_cpu_traits(t);
  const bool is_activation = f.type == QType::Q8_0 || f.type == QType::Q8_1 ||
                             f.type == QType::Q8_K || f.type == QType::F16 ||
                             f.type == QType::BF16;
  if (is_activation && ct->from_float != nullptr) {
    const int64_t blocks = 2048 / std::max<int64_t>(1, f.block_size / 32) + 4;
    auto x = test_row(f, blocks);
    const auto edge = boundary_row(f, 8 * blocks);
    x.insert(x.end(), edge.begin(), edge.end());
    const int64_t n = static_cast<int64_t>(x.size());
    std::vector<uint8_t> ours(row_bytes(f.type, n), 0), theirs(row_bytes(f.type, n), 0),
        ref(row_bytes(f.type, n), 0);
    f.quantize_act(x.data(), ours.data(), n);
    ct->from_float(x.data(), theirs.data(), n);
    const BlockDiff d = compare_blocks(f, ours, theirs, x, n);
    // How far the weight (_ref) quantizer is from what the backend runs: why
    // quantize_act exists for Q8_0/Q8_1, and proof these rows can tell.
    f.quantize(x.data(), ref.data(), n);
    const BlockDiff dr = compare_blocks(f, ref, theirs, x, n);
    report(std::string(f.name) + " cpu from_float", d.blocks_differing == 0,
           fmt("%.0f of %.0f blocks differ (max value diff %g of block max)",
               static_cast<double>(d.blocks_differing),
               static_cast<double>(n / f.block_size), d.max_rel_value_diff) +
               fmt("; the _ref quantizer: %.0f differ", static_cast<double>(dr.blocks_differing)));
  }
  if (ct->vec_dot == nullptr) return;  // Q8_1, Q8_K: ggml has no dot
  if (static_cast<uint32_t>(ct->vec_dot_type) != static_cast<uint32_t>(f.vec_dot_type)) {
    report(std::string(f.name) + " vec_dot", false,
           std::string("ggml pairs it with ") + ggml_type_name(ct->vec_dot_type));
    return;
  }
  const FormatTraits& act = format_traits(f.vec_dot_type);
  double worst = 0;
  for (int64_t blocks : {1, 3, 7, 33}) {
    const int64_t n = blocks * std::max<int64_t>(f.block_size, 32);
    std::vector<float> w(n), a(n);
    for (auto& v : w) v = normal();
    for (auto& v : a) v = normal();
    std::vector<uint8_t> qw(row_bytes(f.type, n)), qa(row_bytes(act.type, n));
    f.quantize(w.data(), qw.data(), n);
    act.quantize_act(a.data(), qa.data(), n);
    const float ours = f.vec_dot(n, qw.data(), qa.data());
    float theirs = 0;
    ct->vec_dot(static_cast<int>(n), &theirs, 0, qw.data(), 0, qa.data(), 0, 1);
    std::vector<float> dw(n), da(n);
    f.dequantize(qw.data(), dw.data(), n);
    act.dequantize(qa.data(), da.data(), n);
    double nw = 0, na = 0;
    for (int64_t i = 0; i < n; ++i) {
      nw += static_cast<double>(dw[i]) * dw[i];
      na += static_cast<double>(da[i]) * da[i];
    }
    worst = std::max(worst, std::fabs(static_cast<double>(ours) - theirs) /
                                std::sqrt(nw * na));
  }
  report(std::string(f.name) + " vec_dot", worst <= 1e-5,
         fmt("max |ours - ggml| / (|w| |a|) = %.3g (limit 1e-5)", worst));
}

void check_half() {
  int64_t bad = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float a = f16_to_f32(static_cast<uint16_t>(h));
    const float b = ggml_fp16_to_fp32(static_cast<ggml_fp16_t>(h));
    bad += std::bit_cast<uint32_t>(a) != std::bit_cast<uint32_t>(b);
  }
  report("f16->f32", bad == 0, fmt("all 65536 values, %.0f differ", static_cast<double>(bad)));

  int64_t bad16 = 0, badbf = 0;
  const int64_t trials = 4'000'000;
  for (int64_t i = 0; i < trials; ++i) {
    uint32_t bits = static_cast<uint32_t>(g_rng());
    // Half the trials near the f16 range (exponents 100..150) where the
    // rounding and subnormal paths are.
    if (i & 1) bits = (bits & 0x807FFFFFu) | ((100u + bits % 51u) << 23);
    const float f = std::bit_cast<float>(bits);
    bad16 += f32_to_f16(f) != ggml_fp32_to_fp16(f);
    badbf += f32_to_bf16(f) != ggml_fp32_to_bf16(f).bits;
    const ggml_bf16_t hb{static_cast<uint16_t>(bits)};
    badbf += std::bit_cast<uint32_t>(bf16_to_f32(static_cast<uint16_t>(bits))) !=
             std::bit_cast<uint32_t>(ggml_bf16_to_fp32(hb));
  }
  report("f32->f16", bad16 == 0,
         fmt("%.0f random f32 patterns, %.0f differ", static_cast<double>(trials),
             static_cast<double>(bad16)));
  report("bf16<->f32", badbf == 0,
         fmt("%.0f random patterns, %.0f differ", static_cast<double>(trials),
             static_cast<double>(badbf)));
}

}  // namespace

// moerun's copy of the portable build's exponential (simd/ggml_exp.h) against
// the CPU backend's own rows: ggml_vec_soft_max_f32 with max 0 leaves
// ggml_v_expf(x) on groups of 4 and expf on the rest, ggml_vec_swiglu_f32
// with g = 1 leaves the SiLU. Bit equality, over every range the exponential
// branches on (|n| > 126, > 192), both signs of zero and the tail rule.
void check_exp() {
  using SoftMaxFn = double (*)(int, float*, const float*, float);
  using SwigluFn = void (*)(int, float*, const float*, const float*);
  auto softmax = reinterpret_cast<SoftMaxFn>(dlsym(g_cpu_lib, "ggml_vec_soft_max_f32"));
  auto swiglu = reinterpret_cast<SwigluFn>(dlsym(g_cpu_lib, "ggml_vec_swiglu_f32"));
  if (softmax == nullptr || swiglu == nullptr) {
    report("ggml exp", false, "ggml_vec_soft_max_f32 / ggml_vec_swiglu_f32 not exported");
    return;
  }
  std::vector<float> x;
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (float scale : {0.01f, 1.0f, 8.0f, 40.0f, 120.0f}) {
    for (int i = 0; i < 4000; ++i) x.push_back(nd(g_rng) * scale);
  }
  for (float v : {0.0f, -0.0f, 87.5f, 88.7f, 89.0f, -87.0f, -103.0f, -104.0f, -150.0f, -1e30f, 1e-40f, -1e-40f}) {
    x.push_back(v);
  }
  while (x.size() % 4 != 3) x.push_back(nd(g_rng));  // 3 tail elements: expf
  const int n = static_cast<int>(x.size());
  std::vector<float> y(n), ones(n, 1.0f), s(n);
  const double sum = softmax(n, y.data(), x.data(), 0.0f);
  swiglu(n, s.data(), x.data(), ones.data());
  int bad_e = 0, bad_s = 0;
  double ours_sum = 0;
  const int n4 = n & ~3;
  for (int i = 0; i < n; ++i) {
    const float e = i < n4 ? moerun::ggml_exp::v_expf(x[i] - 0.0f) : std::exp(x[i] - 0.0f);
    const float si = (i < n4 ? moerun::ggml_exp::v_silu(x[i]) : moerun::ggml_exp::silu_tail(x[i])) * 1.0f;
    bad_e += std::memcmp(&e, &y[i], 4) != 0;
    bad_s += std::memcmp(&si, &s[i], 4) != 0;
    if (i >= n4) ours_sum += e;
  }
  for (int i = 0; i < n4; i += 4) ours_sum += moerun::ggml_exp::sum4(y.data() + i);
  report("ggml exp (softmax rows)", bad_e == 0 && ours_sum == sum,
         fmt("%.0f of %.0f values differ", static_cast<double>(bad_e), static_cast<double>(n)) +
             (ours_sum == sum ? "; row sum equal" : "; row sum differs"));
  report("ggml silu (swiglu rows)", bad_s == 0,
         fmt("%.0f of %.0f values differ", static_cast<double>(bad_s), static_cast<double>(n)));
}

int main(int argc, char** argv) {
  const unsigned seed = argc > 1 ? static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10)) : 20261129u;
  g_rng.seed(seed);
  std::printf("ggml_quant_check seed %u\n", seed);
  if (!load_cpu_backend()) {
    std::printf("FAIL   cannot load the ggml CPU backend next to libggml-base.so\n");
    return 2;
  }
  check_half();
  check_exp();
  size_t count = 0;
  const FormatTraits* formats = all_formats(&count);
  for (size_t i = 0; i < count; ++i) {
    const FormatTraits& f = formats[i];
    const auto t = static_cast<ggml_type>(static_cast<uint32_t>(f.type));
    check_layout(f, t);
    check_dequantize(f, t);
    check_quantize(f, t);
    check_cpu(f, t);
  }
  std::printf("%s: %d check(s) failed\n", g_failures ? "FAILED" : "PASSED", g_failures);
  return g_failures ? 1 : 0;
}
