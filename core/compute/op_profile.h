// Wall time of the forward pass per named stage ("attn.q", "moe.experts",
// ...), for `moerun bench --profile`: where a token's time goes, without a
// profiler. Off by default; when off a stage costs one relaxed load.
// Stages are timed on the calling thread, around whole parallel regions, so
// they add up to the pass (not CPU time per thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace moerun {

struct OpTime {
  std::string name;
  double seconds = 0;
  int64_t calls = 0;
};

void op_profile_enable(bool on);
bool op_profile_enabled();
void op_profile_reset();
// Every stage timed since the last reset, in the order each first ended.
std::vector<OpTime> op_profile_snapshot();

namespace detail {
void op_profile_add(const char* name, double seconds);
}

// Times its scope as stage `name` (a string literal: stages are keyed by
// the pointer, looked up once per call site).
class OpScope {
 public:
  explicit OpScope(const char* name) : name_(op_profile_enabled() ? name : nullptr) {
    if (name_ != nullptr) t0_ = std::chrono::steady_clock::now();
  }
  ~OpScope() {
    if (name_ != nullptr) {
      detail::op_profile_add(name_, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
    }
  }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  const char* name_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace moerun
