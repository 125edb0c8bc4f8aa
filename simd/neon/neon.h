// The NEON rows' parts (simd/neon/, simd/neon_dotprod/). Include only there.
#pragma once

#include "simd/dispatch.h"

namespace moerun {

void fill_neon_quant(KernelTable& t);

}  // namespace moerun
