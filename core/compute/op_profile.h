// Wall time of the forward pass per named stage ("attn.q", "moe.experts",
// ...), for `moerun bench --profile`: where a token's time goes, without a
// profiler. Off by default; when off a stage costs one relaxed load.
// Stages are timed on the calling thread, around whole parallel regions, so
// they add up to the pass (not CPU time per thread). A stage opened inside
// another (the "attention" of every model's attention block) is taken out of
// the outer one: each stage's time is its own, and no time counts twice.
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

class OpScope;
namespace detail {
void op_profile_add(const char* name, double seconds);
// The innermost open stage of this thread (nullptr: none).
OpScope*& op_profile_current();
}

// Times its scope as stage `name` (a string literal: stages are keyed by
// the pointer, looked up once per call site).
class OpScope {
 public:
  explicit OpScope(const char* name) : name_(op_profile_enabled() ? name : nullptr) {
    if (name_ == nullptr) return;
    OpScope*& cur = detail::op_profile_current();
    parent_ = cur;
    cur = this;
    t0_ = std::chrono::steady_clock::now();
  }
  ~OpScope() {
    if (name_ == nullptr) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    detail::op_profile_add(name_, s - inner_);
    if (parent_ != nullptr) parent_->inner_ += s;
    detail::op_profile_current() = parent_;
  }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  const char* name_;
  OpScope* parent_ = nullptr;
  double inner_ = 0;  // seconds of the stages nested in this one
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace moerun
