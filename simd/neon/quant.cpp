// NEON (ARMv8.0) block-format kernels; the code is simd/neon/quant_impl.h.
#include "simd/neon/neon.h"
#include "simd/neon/quant_impl.h"
#include "simd/q8_0_exact_rows.h"

namespace moerun {

void fill_neon_quant(KernelTable& t) { 
  install_neon(t);
  install_exact_kernels(t);  // every Q8_0 and float-weight kernel in ggml's order
}

}  // namespace moerun
