// ISA detection and the dispatch tables (see dispatch.h). CPUID is read
// directly: clang 14 lacks __builtin_cpu_supports("avxvnni"), and the OS must
// also have enabled the register state (XGETBV), which the builtins ignore.
#include "simd/dispatch.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace moerun {
namespace {

#if defined(__x86_64__)
#define MOERUN_ON_x86_64(x) x
#define MOERUN_ON_aarch64(x) nullptr
#elif defined(__aarch64__)
#define MOERUN_ON_x86_64(x) nullptr
#define MOERUN_ON_aarch64(x) x
#else
#define MOERUN_ON_x86_64(x) nullptr
#define MOERUN_ON_aarch64(x) nullptr
#endif
#define MOERUN_ON_any(x) x

struct IsaRow {
  Isa isa;
  const char* name;
  Isa parent;
  void (*fill)(KernelTable&);  // nullptr: not compiled for this arch
};

constexpr IsaRow kIsas[] = {
#define MOERUN_ISA(id, name, parent, arch) {Isa::id, name, Isa::parent, MOERUN_ON_##arch(&fill_##id)},
#include "simd/isa_list.def"
#undef MOERUN_ISA
};
static_assert(sizeof(kIsas) / sizeof(kIsas[0]) == kIsaCount);

constexpr bool parents_come_first() {
  for (int i = 0; i < kIsaCount; ++i) {
    if (static_cast<int>(kIsas[i].isa) != i) return false;
    if (i > 0 && static_cast<int>(kIsas[i].parent) >= i) return false;
  }
  return kIsas[0].isa == Isa::Scalar && kIsas[0].parent == Isa::Scalar;
}
static_assert(parents_come_first(), "isa_list.def: scalar first, each parent before its children");

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, avxvnni = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false;
  bool avx512bf16 = false;
  bool asimd = false, asimddp = false;
};

CpuFeatures detect() {
  CpuFeatures c;
#if defined(__x86_64__)
  unsigned a, b, cx, d;
  if (!__get_cpuid(1, &a, &b, &cx, &d)) return c;
  const bool osxsave = (cx >> 27) & 1;
  c.fma = (cx >> 12) & 1;
  c.f16c = (cx >> 29) & 1;
  uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  const bool ymm_state = (xcr0 & 0x6) == 0x6;           // SSE + AVX state (Intel SDM 13.3)
  const bool zmm_state = ymm_state && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM_Hi256 + Hi16_ZMM
  if (__get_cpuid_count(7, 0, &a, &b, &cx, &d)) {
    c.avx2 = ymm_state && ((b >> 5) & 1);
    c.avx512f = zmm_state && ((b >> 16) & 1);
    c.avx512dq = zmm_state && ((b >> 17) & 1);
    c.avx512bw = zmm_state && ((b >> 30) & 1);
    c.avx512vl = zmm_state && ((b >> 31) & 1);
    c.avx512vnni = zmm_state && ((cx >> 11) & 1);
  }
  if (__get_cpuid_count(7, 1, &a, &b, &cx, &d)) {
    c.avxvnni = ymm_state && ((a >> 4) & 1);
    c.avx512bf16 = zmm_state && ((a >> 5) & 1);
  }
  c.fma = c.fma && ymm_state;
  c.f16c = c.f16c && ymm_state;
#elif defined(__aarch64__)
  const unsigned long hw = getauxval(AT_HWCAP);
  c.asimd = (hw & HWCAP_ASIMD) != 0;
  c.asimddp = (hw & HWCAP_ASIMDDP) != 0;
#endif
  return c;
}

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}

// What each row needs from the CPU (the flags its folder is compiled with).
bool cpu_runs(Isa isa) {
  const CpuFeatures& c = features();
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return c.avx2 && c.fma && c.f16c;
    case Isa::Avx2Vnni: return c.avx2 && c.fma && c.f16c && c.avxvnni;
    case Isa::Avx512:
      return c.avx2 && c.fma && c.f16c && c.avx512f && c.avx512bw && c.avx512vl && c.avx512dq && c.avx512vnni;
    case Isa::Neon: return c.asimd;
    case Isa::NeonDotprod: return c.asimd && c.asimddp;
  }
  return false;
}

// Checks a finished table: every entry set (the scalar row sets all of
// them, so a hole means a fill function cleared one or the registry grew).
void check_complete(const KernelTable& t) {
  auto missing = [&](const std::string& what) {
    fail_runtime(std::string("simd: kernel table '") + t.name + "' has no " + what);
  };
  size_t n = 0;
  const FormatTraits* formats = all_formats(&n);
  for (size_t i = 0; i < n; ++i) {
    const FormatKernels& k = t.fmt[i];
    const std::string f = formats[i].name;
    if (k.dot == nullptr) missing("dot for " + f);
    if (k.gemv == nullptr) missing("gemv for " + f);
    if (k.gemm == nullptr) missing("gemm for " + f);
    if (formats[i].quantize != nullptr && k.quantize == nullptr) missing("quantize for " + f);
  }
  const FloatKernels& f = t.f;
  if (!f.rms_norm || !f.softmax_inplace || !f.silu_mul || !f.add_inplace || !f.axpy || !f.dot_f32 ||
      !f.expf_ggml || !f.attn_scores_exact || !f.attn_values_exact) {
    missing("float op");
  }
}

struct Tables {
  KernelTable t[kIsaCount];
  bool built[kIsaCount] = {};
  Tables() {
    for (int i = 0; i < kIsaCount; ++i) {
      const IsaRow& row = kIsas[i];
      if (row.fill == nullptr || !cpu_runs(row.isa)) continue;
      // Start from the parent's finished table: fallback is data.
      if (i > 0) t[i] = t[static_cast<int>(row.parent)];
      t[i].isa = row.isa;
      t[i].name = row.name;
      row.fill(t[i]);
      check_complete(t[i]);
      built[i] = true;
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const char* isa_name(Isa isa) { return kIsas[static_cast<int>(isa)].name; }

bool isa_supported(Isa isa) { return tables().built[static_cast<int>(isa)]; }

const KernelTable& kernel_table(Isa isa) {
  if (!isa_supported(isa)) {
    fail(std::string("simd: ISA '") + isa_name(isa) + "' is not available on this CPU/build (cpu features: " +
         cpu_features() + ")");
  }
  return tables().t[static_cast<int>(isa)];
}

namespace {

const KernelTable& choose() {
  const char* env = std::getenv("MOERUN_ISA");
  if (env != nullptr && *env != '\0') {
    std::string known;
    for (const IsaRow& row : kIsas) {
      if (std::strcmp(row.name, env) == 0) return kernel_table(row.isa);
      known += known.empty() ? "" : "|";
      known += row.name;
    }
    fail(std::string("MOERUN_ISA='") + env + "' is not an ISA (" + known + ")");
  }
  int best = 0;
  for (int i = 0; i < kIsaCount; ++i) {
    if (tables().built[i]) best = i;
  }
  return tables().t[best];
}

}  // namespace

const KernelTable& kernels() {
  static const KernelTable& t = choose();
  return t;
}

std::string cpu_features() {
  const CpuFeatures& c = features();
  const struct {
    const char* name;
    bool on;
  } list[] = {
      {"avx2", c.avx2},         {"fma", c.fma},           {"f16c", c.f16c},
      {"avxvnni", c.avxvnni},   {"avx512f", c.avx512f},   {"avx512bw", c.avx512bw},
      {"avx512vl", c.avx512vl}, {"avx512dq", c.avx512dq}, {"avx512vnni", c.avx512vnni},
      {"avx512bf16", c.avx512bf16}, {"asimd", c.asimd},   {"asimddp", c.asimddp},
  };
  std::string s;
  for (const auto& f : list) {
    if (!f.on) continue;
    if (!s.empty()) s += ' ';
    s += f.name;
  }
  return s.empty() ? "none" : s;
}

}  // namespace moerun
