// The AVX-512 row's parts (simd/avx512/*.cpp), joined by fill_Avx512.
// Compiled with -mavx512f/bw/vl/dq/vnni (CMakeLists.txt): include only from
// simd/avx512/.
#pragma once

#include "simd/dispatch.h"

namespace moerun {

void fill_avx512_legacy(KernelTable& t);
void fill_avx512_legacy_gemv(KernelTable& t);
void fill_avx512_legacy_gemm(KernelTable& t);
void fill_avx512_q4_0_block_lanes(KernelTable& t);
void fill_avx512_legacy_gemm_lanes(KernelTable& t);
void fill_avx512_q4_k_gemm_lanes(KernelTable& t);
void fill_avx512_kquants(KernelTable& t);
void fill_avx512_k_gemv(KernelTable& t);
void fill_avx512_q6_k(KernelTable& t);
void fill_avx512_float(KernelTable& t);
void fill_avx512_quantize(KernelTable& t);
void fill_avx512_q8_0_exact(KernelTable& t);
void fill_avx512_q8_0_exact_lanes(KernelTable& t);
void fill_avx512_exact_attn(KernelTable& t);
void fill_avx512_attn_tiles(KernelTable& t);
void fill_avx512_ggml_exp(KernelTable& t);

}  // namespace moerun
