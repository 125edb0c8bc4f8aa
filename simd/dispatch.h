// The kernel dispatch table: which ISA runs, and one table of function
// pointers per ISA (block-format dot/GEMV/GEMM tiles, activation quantizers,
// float ops). Chosen once, at first use, from CPUID (x86) or HWCAP (Arm);
// MOERUN_ISA=scalar|avx2|avx2_vnni|avx512|neon|neon_dotprod forces one.
// Owns: ISA detection, the table and its fallback rule (a row lacking a
// kernel inherits its parent's, see isa_list.def). Does not own the kernels
// (simd/<isa>/) or threading (core/compute/matmul.cpp splits rows over threads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "quant/format.h"
#include "simd/float_ops.h"

namespace moerun {

enum class Isa : int {
#define MOERUN_ISA(id, name, parent, arch) id,
#include "simd/isa_list.def"
#undef MOERUN_ISA
};
inline constexpr int kIsaCount = 0
#define MOERUN_ISA(id, name, parent, arch) +1
#include "simd/isa_list.def"
#undef MOERUN_ISA
    ;

inline constexpr int kFormatCount = 0
#define MOERUN_FORMAT(id, ...) +1
#include "quant/formats.def"
#undef MOERUN_FORMAT
    ;

// Position of a format in formats.def (the table's row index).
constexpr int format_index(QType t) {
  int i = 0;
#define MOERUN_FORMAT(id, ...) \
  if (t == QType::id) return i; \
  ++i;
#include "quant/formats.def"
#undef MOERUN_FORMAT
  return -1;
}

// One matmul tile: for weight rows r in [0, N) and activation rows b in
// [0, B): y[out(b) * ldy + r] = dot(weight row r, activation row b).
// The weight rows are in their block format, the activation rows already in
// the weight's vec_dot_type (quantized once by the caller).
struct MatmulArgs {
  int64_t K = 0;                  // elements per row (multiple of the block size)
  const uint8_t* w = nullptr;     // N weight rows, w_stride bytes apart
  size_t w_stride = 0;
  int64_t N = 0;
  const uint8_t* a = nullptr;     // B activation rows, a_stride bytes apart
  size_t a_stride = 0;
  int64_t B = 0;
  float* y = nullptr;             // output, row-major [*, ldy]
  int64_t ldy = 0;
  // Output row of activation row b: out_rows[b], or b when null. MoE uses
  // it to scatter an expert's gathered tokens back to their batch rows.
  const int32_t* out_rows = nullptr;
  // Weight rows from w on that may be prefetched (>= N; 0: N). A caller
  // that runs a matrix in consecutive chunks on one thread sets it to the
  // rows left in the matrix, so the decode GEMV's prefetch runs on into the
  // next chunk instead of starting it cold.
  int64_t n_prefetch = 0;
};
using GemmFn = void (*)(const MatmulArgs&);

struct FormatKernels {
  VecDotFn dot = nullptr;        // one weight row x one activation row
  GemmFn gemv = nullptr;         // B == 1 (decode)
  GemmFn gemm = nullptr;         // any B; tiles of several activation rows
  QuantizeFn quantize = nullptr; // f32 -> this format (activation formats)
  // Optional, for many activation rows: the quantized activation rows are
  // packed once per matmul (pack_act: column groups [g0, g1) of 16 into
  // `out`, packed_act_bytes in all), and gemm_packed takes MatmulArgs::a as
  // that packed buffer. Null where an ISA has no such kernel.
  size_t (*packed_act_bytes)(int64_t B, int64_t K) = nullptr;
  void (*pack_act)(const uint8_t* a, size_t a_stride, int64_t B, int64_t K, int64_t g0, int64_t g1,
                   uint8_t* out) = nullptr;
  GemmFn gemm_packed = nullptr;
};

struct FloatKernels {
  void (*rms_norm)(const float* x, const float* w, float* y, int64_t n, float eps) = nullptr;
  void (*softmax_inplace)(float* x, int64_t n) = nullptr;
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
  void (*add_inplace)(float* y, const float* x, int64_t n) = nullptr;
  void (*axpy)(float* y, float a, const float* x, int64_t n) = nullptr;
  float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
  void (*attn_scores_f32)(const float* qt, int64_t ldt, int64_t M, const float* const* k, int64_t N, int64_t D,
                          float* st, const float* const* v, int64_t dv) = nullptr;
  void (*attn_values_f32)(const float* st, int64_t ldt, int64_t M, const float* const* v, int64_t N, int64_t D,
                          float* o, int64_t ldo) = nullptr;
  void (*gemm_g16_bf16)(const float* a, int64_t lda, int64_t M, const uint16_t* b, int64_t ldg, int64_t N, int64_t D,
                       float* s, int64_t lds, bool accumulate) = nullptr;
  void (*attn_softmax_f32)(float* st, int64_t ldt, int64_t M, int64_t N, float* m, float* l, float* rescale) = nullptr;
  void (*expf_ggml)(float* x, int64_t n, float sub) = nullptr;
  void (*attn_scores_exact)(const float* qt, int64_t ldqt, int64_t M, const float* k, int64_t ldk, int64_t N,
                            int64_t D, float* s, int64_t lds) = nullptr;
  void (*attn_values_exact)(const float* p, int64_t ldp, int64_t M, const float* v, int64_t ldv, int64_t N, int64_t D,
                            double* o, int64_t ldo) = nullptr;
};

struct KernelTable {
  Isa isa = Isa::Scalar;
  const char* name = "";
  FormatKernels fmt[kFormatCount];  // formats.def order (format_index)
  FloatKernels f;

  const FormatKernels& of(QType t) const { return fmt[format_index(t)]; }
};

// Each ISA's kernel file defines fill_<id>: it sets the entries it has and
// leaves the rest untouched (they hold the parent's).
#define MOERUN_ISA(id, name, parent, arch) void fill_##id(KernelTable& t);
#include "simd/isa_list.def"
#undef MOERUN_ISA

const char* isa_name(Isa isa);
// True when this build has the ISA's kernels and this CPU (and OS) runs them.
bool isa_supported(Isa isa);
// The table of a supported ISA (complete: every entry set). Throws
// moerun::Error for an unsupported one.
const KernelTable& kernel_table(Isa isa);
// The active table: MOERUN_ISA if set (an unknown or unsupported name is an
// Error), else the best supported ISA. Chosen on the first call.
const KernelTable& kernels();
// The CPU features dispatch looked at, space-separated ("avx2 fma ...").
std::string cpu_features();

}  // namespace moerun
