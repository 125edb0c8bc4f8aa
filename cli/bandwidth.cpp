#include "cli/bandwidth.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/compute/thread_pool.h"
#include "core/error.h"

namespace moerun::cli {

namespace {

// 512 MiB: twice the largest L3 these machines report (260 MB on a
// 2-vCPU Xeon VM), so no pass is served from cache.
constexpr size_t kBytes = size_t{512} << 20;
constexpr int kPasses = 5;

// Sum of a range with independent accumulators, so the loop is bound by
// loads, not by an add chain; the result is used, so it is not removed.
uint64_t sum_range(const uint64_t* p, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
    e += p[i + 4];
    f += p[i + 5];
    g += p[i + 6];
    h += p[i + 7];
  }
  for (; i < n; ++i) a += p[i];
  return a + b + c + d + e + f + g + h;
}

}  // namespace

double measure_read_bandwidth() {
  void* mem = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) fail_runtime("bench: cannot allocate the bandwidth probe's 512 MiB");
  madvise(mem, kBytes, MADV_HUGEPAGE);  // fewer page faults; the reads are the same either way
  std::memset(mem, 1, kBytes);
  const auto* words = static_cast<const uint64_t*>(mem);
  const size_t n = kBytes / sizeof(uint64_t);
  const int64_t chunks = int64_t{threads()} * 16;
  std::vector<uint64_t> sums(static_cast<size_t>(chunks));
  double best = 0;
  for (int pass = 0; pass < kPasses; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    parallel_for(chunks, [&](int64_t k) {
      const size_t i0 = n * k / chunks, i1 = n * (k + 1) / chunks;
      sums[k] = sum_range(words + i0, i1 - i0);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    uint64_t total = 0;
    for (uint64_t v : sums) total += v;
    if (total != n * 0x0101010101010101ull) fail_runtime("bench: the bandwidth probe read wrong data");
    best = std::max(best, static_cast<double>(kBytes) / s / 1e9);
  }
  munmap(mem, kBytes);
  return best;
}

}  // namespace moerun::cli
