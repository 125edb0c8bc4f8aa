// The forward pass's thread pool: every item runs exactly once, on at most
// the requested threads, nested calls stay on their thread, and thousands of
// back-to-back jobs (a decode step's worth) neither lose nor repeat items.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <new>
#include <set>
#include <thread>
#include <vector>

#include "core/compute/thread_pool.h"

namespace moerun {
namespace {

// Restores the thread count a test changed.
struct ThreadsGuard {
  int saved = threads();
  ~ThreadsGuard() { set_threads(saved); }
};

std::vector<int> run_counts(int64_t n, int max_threads = 0) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  parallel_for(n, [&](int64_t i) { hits[static_cast<size_t>(i)].fetch_add(1); }, max_threads);
  std::vector<int> out;
  for (auto& h : hits) out.push_back(h.load());
  return out;
}

TEST_CASE("thread pool: every item exactly once, for any item and thread count") {
  ThreadsGuard guard;
  for (int t : {1, 2, 3, 8}) {
    set_threads(t);
    for (int64_t n : {0, 1, 2, 7, 64, 1001}) {
      CAPTURE(t);
      CAPTURE(n);
      const std::vector<int> c = run_counts(n);
      CHECK(c == std::vector<int>(static_cast<size_t>(n), 1));
    }
  }
}

TEST_CASE("thread pool: at most max_threads threads, the caller among them") {
  ThreadsGuard guard;
  set_threads(4);
  for (int limit : {1, 2, 4}) {
    std::mutex m;
    std::set<std::thread::id> ids;
    parallel_for(
        256,
        [&](int64_t) {
          // Long enough that idle workers wake and ask for items.
          std::this_thread::sleep_for(std::chrono::microseconds(50));
          std::lock_guard<std::mutex> lock(m);
          ids.insert(std::this_thread::get_id());
        },
        limit);
    CAPTURE(limit);
    CHECK(ids.size() <= static_cast<size_t>(limit));
    if (limit == 1) CHECK(*ids.begin() == std::this_thread::get_id());
  }
}

TEST_CASE("thread pool: a nested parallel_for runs on the item's own thread") {
  ThreadsGuard guard;
  set_threads(2);
  CHECK_FALSE(in_parallel());
  std::atomic<int> wrong_thread{0}, not_flagged{0}, inner_items{0};
  parallel_for(8, [&](int64_t) {
    if (!in_parallel()) not_flagged.fetch_add(1);
    const std::thread::id me = std::this_thread::get_id();
    parallel_for(5, [&](int64_t) {
      if (std::this_thread::get_id() != me) wrong_thread.fetch_add(1);
      inner_items.fetch_add(1);
    });
  });
  CHECK(not_flagged.load() == 0);
  CHECK(wrong_thread.load() == 0);
  CHECK(inner_items.load() == 40);
  CHECK_FALSE(in_parallel());
}

TEST_CASE("thread pool: back-to-back jobs of different sizes lose and repeat nothing") {
  ThreadsGuard guard;
  set_threads(3);
  // A late worker must never run an item of a finished job with the next
  // job's function, or the next job's items twice.
  std::vector<std::atomic<int64_t>> sums(2);
  int64_t want0 = 0, want1 = 0;
  for (int job = 0; job < 20000; ++job) {
    const int64_t n = 1 + job % 7;
    std::atomic<int64_t>& sum = sums[job % 2];
    parallel_for(n, [&sum, job](int64_t i) { sum.fetch_add(job * 8 + i); });
    for (int64_t i = 0; i < n; ++i) (job % 2 ? want1 : want0) += job * 8 + i;
  }
  CHECK(sums[0].load() == want0);
  CHECK(sums[1].load() == want1);
}

}  // namespace

TEST_CASE("thread pool: an exception in an item reaches the caller, whatever thread ran it") {
  ThreadsGuard guard;
  for (int t : {1, 2, 4}) {
    CAPTURE(t);
    set_threads(t);
    std::atomic<int> ran{0};
    try {
      parallel_for(64, [&](int64_t i) {
        ran.fetch_add(1);
        if (i % 16 == 5) throw std::bad_alloc();
      });
      FAIL("no exception");
    } catch (const std::bad_alloc&) {
    }
    CHECK(ran.load() >= 1);
    CHECK(ran.load() <= 64);
    // The pool still works afterwards.
    std::atomic<int64_t> sum{0};
    parallel_for(100, [&](int64_t i) { sum.fetch_add(i); });
    CHECK(sum.load() == 4950);
  }
}

}  // namespace moerun
