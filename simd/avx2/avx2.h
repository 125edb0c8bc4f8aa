// The AVX2 row's parts (simd/avx2/*.cpp). Compiled with -mavx2 -mfma -mf16c:
// include only from simd/avx2/ and simd/avx2_vnni/.
#pragma once

#include "simd/dispatch.h"

namespace moerun {

void fill_avx2_quant(KernelTable& t);
// Decode GEMVs of Q4_0, Q5_0, Q8_0, Q4_K and Q5_K (simd/avx2/gemv.cpp and
// its AVX-VNNI build, simd/avx2_vnni/gemv.cpp): set after the tiles, they
// replace only those formats' gemv entries.
void fill_avx2_gemv(KernelTable& t);
void fill_avx2_vnni_gemv(KernelTable& t);

}  // namespace moerun
