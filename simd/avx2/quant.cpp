// AVX2 block-format kernels (vpmaddubsw); the code is simd/avx2/quant_impl.h.
#include "simd/avx2/avx2.h"
#include "simd/avx2/quant_impl.h"

namespace moerun {

void fill_avx2_quant(KernelTable& t) { install_all(t); }

}  // namespace moerun
