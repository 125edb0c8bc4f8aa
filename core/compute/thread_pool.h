// The threads the forward pass runs on: the calling thread plus workers
// created once, handed items from a shared counter.
//
// Why not OpenMP regions: a forward pass enters a few hundred parallel
// regions per token, and libgomp's waiting threads spin for milliseconds
// before they sleep. When another process holds one of a laptop's cores,
// the spinning thread eats the time slice its preempted peer needs, and
// every region ends a scheduler tick late: decode of a 16-layer MoE at -t 2
// fell from 3.3 to 0.8 tokens/s next to a compiler (-t 1: 3.3). Here a
// waiting thread spins for kSpin, long enough to bridge the gap between two
// regions of one token, then sleeps on a futex; and items are claimed one at
// a time, so a thread that was preempted before it claimed anything is never
// waited for.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <type_traits>

namespace moerun {

// Threads parallel_for uses (the caller included). The default is the
// number of CPUs (OMP_NUM_THREADS when set, as the rest of the toolchain).
void set_threads(int n);
int threads();

// True inside a parallel_for item: a nested parallel_for runs serially on
// the calling thread (MoE decode runs one expert per thread; each expert's
// matmuls stay on it).
bool in_parallel();

namespace detail {
using ItemFn = void (*)(void* ctx, int64_t i);
void parallel_for(int64_t n, int max_threads, ItemFn fn, void* ctx);
}  // namespace detail

// Calls fn(i) for every i in [0, n) exactly once, on up to max_threads
// threads (<= 0: threads()), and returns when all calls have returned. Items
// go to whichever thread asks next, so items should be coarse (a chunk of
// rows, an expert, a head). If fn throws (per-thread scratch that cannot
// grow: std::bad_alloc), the items not yet started are skipped and the first
// exception is rethrown here, on the calling thread: an exception leaving a
// worker thread would end the process with std::terminate.
template <class F>
void parallel_for(int64_t n, F&& fn, int max_threads = 0) {
  struct Job {
    std::remove_reference_t<F>* fn;
    std::atomic<bool> failed{false};
    std::mutex lock;
    std::exception_ptr error;
  } job;
  job.fn = &fn;
  auto call = [](void* ctx, int64_t i) {
    Job& j = *static_cast<Job*>(ctx);
    if (j.failed.load(std::memory_order_relaxed)) return;
    try {
      (*j.fn)(i);
    } catch (...) {
      std::lock_guard<std::mutex> g(j.lock);
      if (!j.error) j.error = std::current_exception();
      j.failed.store(true, std::memory_order_relaxed);
    }
  };
  detail::parallel_for(n, max_threads, call, &job);
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace moerun
