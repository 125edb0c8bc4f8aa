// The AVX2 row's parts (simd/avx2/*.cpp). Compiled with -mavx2 -mfma -mf16c:
// include only from simd/avx2/ and simd/avx2_vnni/.
#pragma once

#include "simd/dispatch.h"

namespace moerun {

void fill_avx2_quant(KernelTable& t);

}  // namespace moerun
