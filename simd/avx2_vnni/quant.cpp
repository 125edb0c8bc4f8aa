// AVX-VNNI block-format kernels: simd/avx2/quant_impl.h compiled with
// -mavxvnni, so the u8 x s8 dots are one vpdpbusd (no int16 step). The float
// ops and quantizers are inherited from the avx2 row.
#include "simd/avx2/avx2.h"
#include "simd/avx2/quant_impl.h"

#if !defined(__AVXVNNI__)
#error "simd/avx2_vnni/ must be compiled with -mavxvnni (simd/isa_flags.cmake)"
#endif

namespace moerun {

void fill_Avx2Vnni(KernelTable& t) { install_all(t); }

}  // namespace moerun
