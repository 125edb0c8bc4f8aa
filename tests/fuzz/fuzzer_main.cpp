// libFuzzer's entry point for one target; the build names the target's entry
// function in MOERUN_FUZZ_ENTRY (tests/fuzz/fuzz.cmake).
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return MOERUN_FUZZ_ENTRY(data, size); }
