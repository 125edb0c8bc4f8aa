#include "core/compute/op_profile.h"

#include <atomic>
#include <mutex>

namespace moerun {

namespace {

std::atomic<bool> g_on{false};
std::mutex g_mu;
// Few stages (tens): a linear scan by pointer beats a map and keeps order.
std::vector<std::pair<const char*, OpTime>> g_ops;

}  // namespace

void op_profile_enable(bool on) { g_on.store(on, std::memory_order_relaxed); }
bool op_profile_enabled() { return g_on.load(std::memory_order_relaxed); }

void op_profile_reset() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_ops.clear();
}

std::vector<OpTime> op_profile_snapshot() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::vector<OpTime> out;
  for (const auto& [key, t] : g_ops) out.push_back(t);
  return out;
}

namespace detail {

OpScope*& op_profile_current() {
  thread_local OpScope* current = nullptr;
  return current;
}

void op_profile_add(const char* name, double seconds) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (auto& [key, t] : g_ops) {
    if (key == name) {
      t.seconds += seconds;
      t.calls += 1;
      return;
    }
  }
  g_ops.push_back({name, OpTime{name, seconds, 1}});
}

}  // namespace detail
}  // namespace moerun
