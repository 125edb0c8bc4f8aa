// Stage timing for `bench --profile`: off by default (nothing recorded),
// and when on every scope is counted under its name, in the order scopes first end;
// a nested scope's time is its own, not its parent's too.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "core/compute/op_profile.h"

using namespace moerun;

TEST_CASE("op profile: records nothing when off, calls and order when on") {
  op_profile_enable(false);
  op_profile_reset();
  { OpScope a("test.a"); }
  CHECK(op_profile_snapshot().empty());

  op_profile_enable(true);
  for (int i = 0; i < 3; ++i) {
    { OpScope a("test.a"); }
    { OpScope b("test.b"); }
  }
  {
    OpScope outer("test.outer");
    OpScope inner("test.inner");
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  op_profile_enable(false);
  const std::vector<OpTime> ops = op_profile_snapshot();
  REQUIRE(ops.size() == 4);
  CHECK(ops[0].name == "test.a");
  CHECK(ops[0].calls == 3);
  CHECK(ops[1].name == "test.b");
  CHECK(ops[1].calls == 3);
  // A scope is recorded when it ends: the inner one first. The outer one
  // keeps only what ran outside the inner one (not the 30 ms sleep).
  CHECK(ops[2].name == "test.inner");
  CHECK(ops[3].name == "test.outer");
  CHECK(ops[2].seconds >= 0.029);
  CHECK(ops[3].seconds < ops[2].seconds);
  op_profile_reset();
  CHECK(op_profile_snapshot().empty());
}
