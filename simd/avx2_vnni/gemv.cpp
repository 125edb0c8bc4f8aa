// AVX-VNNI decode GEMVs: simd/avx2/q_legacy_gemv_impl.h and
// simd/avx2/q4_k_gemv_impl.h compiled with -mavxvnni (vpdpbusd, vpdpwssd).
#include "simd/avx2/avx2.h"
#include "simd/avx2/q4_k_gemv_impl.h"
#include "simd/avx2/q_legacy_gemv_impl.h"
#include "simd/q8_0_exact_rows.h"

#if !defined(__AVXVNNI__)
#error "simd/avx2_vnni/ must be compiled with -mavxvnni (simd/isa_flags.cmake)"
#endif

namespace moerun {

void fill_avx2_vnni_gemv(KernelTable& t) {
  install_legacy_gemv(t);
  install_q4_k_gemv(t);
  install_exact_kernels(t);  // last: every Q8_0 and float-weight kernel in ggml's order
}

}  // namespace moerun
