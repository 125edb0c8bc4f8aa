// NEON dotprod (ARMv8.2 sdot) block-format kernels: simd/neon/quant_impl.h
// compiled with +dotprod. Float ops are inherited from the neon row.
#include "simd/neon/neon.h"
#include "simd/neon/quant_impl.h"
#include "simd/q8_0_exact_rows.h"

#if !defined(__ARM_FEATURE_DOTPROD)
#error "simd/neon_dotprod/ must be compiled with +dotprod (simd/isa_flags.cmake)"
#endif

namespace moerun {

void fill_NeonDotprod(KernelTable& t) { 
  install_neon(t);
  install_exact_kernels(t);  // every Q8_0 and float-weight kernel in ggml's order
}

}  // namespace moerun
