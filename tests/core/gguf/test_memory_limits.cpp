// The memory figures that decide whether a load is refused up front: parsed
// from /proc and cgroup text as the kernel writes it, and read live.
#include <doctest/doctest.h>

#include "core/gguf/memory_limits.h"

using namespace moerun;

TEST_CASE("memory limits: MemAvailable plus free swap from /proc/meminfo") {
  const char* meminfo =
      "MemTotal:       24683968 kB\n"
      "MemFree:        15700000 kB\n"
      "MemAvailable:   23716000 kB\n"
      "SwapTotal:       2097148 kB\n"
      "SwapFree:        1048576 kB\n";
  CHECK(meminfo_available(meminfo) == (23716000ull + 1048576ull) * 1024);
  CHECK(meminfo_available("MemAvailable: 100 kB\n") == 102400);  // no swap lines
  CHECK(meminfo_available("MemTotal: 100 kB\n") == kNoLimit);    // old kernels: unknown, never a refusal
}

TEST_CASE("memory limits: cgroup headroom is the limit minus anonymous memory") {
  // v2: memory.max and memory.stat ("file" is page cache, reclaimed first).
  CHECK(cgroup_headroom("1073741824\n", "anon 104857600\nfile 536870912\n") == 1073741824ull - 104857600ull);
  CHECK(cgroup_headroom("max\n", "anon 5\n") == kNoLimit);
  // v1: memory.limit_in_bytes ("no limit" is a huge page-aligned value) and total_rss.
  CHECK(cgroup_headroom("9223372036854771712\n", "cache 1\nrss 2\ntotal_rss 3\n") == kNoLimit);
  CHECK(cgroup_headroom("2147483648\n", "cache 1000\nrss 10\ntotal_cache 1000\ntotal_rss 1048576\n") ==
        2147483648ull - 1048576ull);
  CHECK(cgroup_headroom("1000\n", "anon 4096\n") == 0);  // over the limit already
  CHECK(cgroup_headroom("", "") == kNoLimit);           // no such file
}

TEST_CASE("memory limits: this process's figures are plausible") {
  const MemoryLimits m = read_memory_limits();
  CHECK(m.address_space_used > 0);
  CHECK(m.ram_available > 0);
  CHECK(m.ram_available <= m.system_available);
  CHECK(human_size(uint64_t{3} << 29) == "1.50 GiB");
  CHECK(human_size(uint64_t{300} << 20) == "300.0 MiB");
}
