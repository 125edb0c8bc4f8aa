// AVX2 decode GEMVs (vpmaddubsw + vpmaddwd): simd/avx2/q_legacy_gemv_impl.h
// and simd/avx2/q4_k_gemv_impl.h.
#include "simd/avx2/avx2.h"
#include "simd/avx2/q4_k_gemv_impl.h"
#include "simd/avx2/q_legacy_gemv_impl.h"
#include "simd/q8_0_exact_rows.h"

namespace moerun {

void fill_avx2_gemv(KernelTable& t) {
  install_legacy_gemv(t);
  install_q4_k_gemv(t);
  install_exact_kernels(t);  // last: every Q8_0 and float-weight kernel in ggml's order
}

}  // namespace moerun
