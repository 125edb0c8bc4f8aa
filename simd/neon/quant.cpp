// NEON (ARMv8.0) block-format kernels; the code is simd/neon/quant_impl.h.
#include "simd/neon/neon.h"
#include "simd/neon/quant_impl.h"

namespace moerun {

void fill_neon_quant(KernelTable& t) { install_neon(t); }

}  // namespace moerun
