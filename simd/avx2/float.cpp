// AVX2 float ops (xsimd, fma3<avx2>) and the AVX2 row's fill function.
#include "simd/avx2/avx2.h"
#include "simd/xsimd_float_ops.h"

namespace moerun {

void fill_Avx2(KernelTable& t) {
  xs::FloatOps<xsimd::fma3<xsimd::avx2>>::fill(t.f);
  fill_avx2_quant(t);
}

}  // namespace moerun
