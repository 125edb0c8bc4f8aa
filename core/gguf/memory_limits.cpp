#include "core/gguf/memory_limits.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace moerun {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value of "Key:   123 kB" in /proc text, in bytes; kNoLimit if absent.
uint64_t kb_field(std::string_view text, std::string_view key) {
  for (size_t at = 0; (at = text.find(key, at)) != std::string_view::npos; at += key.size()) {
    if ((at == 0 || text[at - 1] == '\n') && text.substr(at + key.size(), 1) == ":") {
      return std::strtoull(std::string(text.substr(at + key.size() + 1, 32)).c_str(), nullptr, 10) * 1024;
    }
  }
  return kNoLimit;
}

// The cgroup this process is in, per hierarchy: the v2 path ("0::/x") and
// the v1 memory controller's path ("N:memory:/x").
void own_cgroups(std::string& v2, std::string& v1_memory) {
  std::istringstream in(slurp("/proc/self/cgroup"));
  for (std::string line; std::getline(in, line);) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (line.compare(0, a, "0") == 0 && controllers.empty()) v2 = path;
    if (controllers == "memory" || controllers.find("memory,") == 0 || controllers.find(",memory") != std::string::npos) {
      v1_memory = path;
    }
  }
}

}  // namespace

uint64_t meminfo_available(std::string_view meminfo) {
  const uint64_t avail = kb_field(meminfo, "MemAvailable");
  if (avail == kNoLimit) return kNoLimit;
  const uint64_t swap = kb_field(meminfo, "SwapFree");
  return avail + (swap == kNoLimit ? 0 : swap);
}

uint64_t cgroup_headroom(std::string_view limit_text, std::string_view stat_text) {
  if (limit_text.empty() || limit_text.substr(0, 3) == "max") return kNoLimit;
  const uint64_t limit = std::strtoull(std::string(limit_text).c_str(), nullptr, 10);
  // v1 writes "no limit" as the largest page-aligned long (9223372036854771712).
  if (limit == 0 || limit >= (uint64_t{1} << 62)) return kNoLimit;
  // Anonymous memory only: the cgroup's page cache is reclaimed before its
  // processes are killed (v2 memory.stat "anon", v1 "total_rss").
  uint64_t anon = 0;
  std::istringstream in{std::string(stat_text)};
  for (std::string key; in >> key;) {
    uint64_t v = 0;
    in >> v;
    if (key == "anon" || key == "total_rss") anon = v;
  }
  return limit > anon ? limit - anon : 0;
}

MemoryLimits read_memory_limits() {
  MemoryLimits m;
  rlimit r{};
  if (getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur != RLIM_INFINITY) m.address_space_limit = r.rlim_cur;
  const uint64_t vm = kb_field(slurp("/proc/self/status"), "VmSize");
  m.address_space_used = vm == kNoLimit ? 0 : vm;
  m.system_available = meminfo_available(slurp("/proc/meminfo"));
  std::string v2, v1;
  own_cgroups(v2, v1);
  for (const std::string& dir : {"/sys/fs/cgroup" + v2, "/sys/fs/cgroup/unified" + v2}) {
    if (v2.empty()) break;
    const std::string limit = slurp(dir + "/memory.max");
    if (!limit.empty()) {
      m.cgroup_available = std::min(m.cgroup_available, cgroup_headroom(limit, slurp(dir + "/memory.stat")));
      break;
    }
  }
  if (!v1.empty()) {
    const std::string dir = "/sys/fs/cgroup/memory" + v1;
    m.cgroup_available = std::min(m.cgroup_available, cgroup_headroom(slurp(dir + "/memory.limit_in_bytes"),
                                                                      slurp(dir + "/memory.stat")));
  }
  m.ram_available = std::min(m.system_available, m.cgroup_available);
  return m;
}

std::string human_size(uint64_t bytes) {
  char buf[32];
  if (bytes >= (uint64_t{1} << 30)) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1ull << 30));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1ull << 20));
  }
  return buf;
}

}  // namespace moerun
