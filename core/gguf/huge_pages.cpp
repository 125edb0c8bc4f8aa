// How much of a loaded file sits in 2 MiB pages. The kernel decides (the
// file system's folio sizes for a mapping, THP for anonymous memory), so
// moerun can only ask for huge pages (gguf.cpp) and then look: the mapping's
// entry in /proc/self/smaps counts FilePmdMapped (file pages mapped by one
// PMD) or AnonHugePages.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "core/gguf/gguf.h"

namespace moerun {

double GgufFile::huge_page_share() const {
  std::ifstream smaps("/proc/self/smaps");
  if (!smaps) return -1;
  const auto base = reinterpret_cast<uintptr_t>(base_);
  const uintptr_t end = base + size_;
  uint64_t huge_kb = 0, rss_kb = 0;
  bool inside = false;
  std::string line;
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    // A VMA header is "lo-hi perms ..."; field lines are "Name:   N kB".
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      inside = lo < end && hi > base;
      continue;
    }
    if (!inside) continue;
    unsigned long kb = 0;
    if (std::sscanf(line.c_str(), "Rss: %lu kB", &kb) == 1) rss_kb += kb;
    if (std::sscanf(line.c_str(), "FilePmdMapped: %lu kB", &kb) == 1) huge_kb += kb;
    if (std::sscanf(line.c_str(), "AnonHugePages: %lu kB", &kb) == 1) huge_kb += kb;
  }
  if (rss_kb == 0) return 0;
  return std::min(1.0, static_cast<double>(huge_kb) / static_cast<double>(rss_kb));
}

}  // namespace moerun
