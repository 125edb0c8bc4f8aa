// How much memory this process may still take, for refusing up front a load
// that cannot fit instead of dying later: an mmap or allocation that fails
// under `ulimit -v`, or, worse, anonymous memory (--no-mmap, --mlock) beyond
// what the machine or the cgroup can give, which ends in the kernel's OOM
// killer with no message at all. A mapped file (the default) needs address
// space only: its pages are page cache, which the kernel reclaims and reads
// back from the file when memory is short.
// Owns: reading RLIMIT_AS, /proc/self/status, /proc/meminfo and the cgroup
// (v1 or v2) memory limit and usage. Does not own: deciding what to load.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace moerun {

constexpr uint64_t kNoLimit = UINT64_MAX;

struct MemoryLimits {
  uint64_t address_space_limit = kNoLimit;  // RLIMIT_AS (ulimit -v)
  uint64_t address_space_used = 0;          // VmSize now
  uint64_t ram_available = kNoLimit;        // the smaller of the two below
  uint64_t system_available = kNoLimit;     // MemAvailable + SwapFree
  uint64_t cgroup_available = kNoLimit;     // the cgroup's limit minus its usage

  uint64_t address_space_left() const {
    return address_space_limit == kNoLimit ? kNoLimit
           : address_space_limit > address_space_used ? address_space_limit - address_space_used
                                                       : 0;
  }
};

// The limits as the kernel reports them now; what cannot be read stays kNoLimit.
MemoryLimits read_memory_limits();

// MemAvailable + SwapFree in bytes from the text of /proc/meminfo (kNoLimit
// when MemAvailable is missing).
uint64_t meminfo_available(std::string_view meminfo);
// A cgroup's headroom for anonymous memory from its limit file (v1
// memory.limit_in_bytes or v2 memory.max, "max" meaning none) and its
// memory.stat: the limit minus the anonymous memory in use (page cache is
// reclaimed first). kNoLimit when unlimited.
uint64_t cgroup_headroom(std::string_view limit_text, std::string_view stat_text);

// "1.18 GiB", "300.0 MiB", for messages.
std::string human_size(uint64_t bytes);

}  // namespace moerun
