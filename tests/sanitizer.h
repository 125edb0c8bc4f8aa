// MOERUN_ASAN is defined to 1 in a build under AddressSanitizer (GCC or
// clang), for tests whose figures (RSS, address space) ASan's shadow memory
// would distort.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define MOERUN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOERUN_ASAN 1
#endif
#endif
