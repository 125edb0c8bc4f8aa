// NEON (ARMv8.0 Advanced SIMD) row: xsimd float ops; block formats in
// simd/neon/quant.cpp.
#include "simd/neon/neon.h"
#include "simd/xsimd_float_ops.h"

namespace moerun {

void fill_Neon(KernelTable& t) {
  xs::FloatOps<xsimd::neon64>::fill(t.f);
  fill_neon_quant(t);
}

}  // namespace moerun
