#include "core/compute/thread_pool.h"

#include <linux/futex.h>
#include <omp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace moerun {
namespace {

// How long a waiting thread spins before it sleeps. Between two parallel
// regions of one decode step the other threads wait a few to a few tens of
// microseconds (norms, RoPE, routing run on the caller); a futex wake costs
// ~50 us on the 2-vCPU VMs measured, so spinning must bridge those gaps. Past
// this, the wait is a preempted peer or the end of the step, and the CPU is
// better given back.
constexpr auto kSpin = std::chrono::microseconds(100);

// state: job generation in the high 32 bits, next unclaimed item in the low
// 32; kClosed as the item marks a finished job (no item can be claimed).
constexpr uint64_t kClosed = 0xFFFFFFFFu;

void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
void futex_wake_all(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spin iterations (cpu_relax + one load) that take about kSpin: measured
// once, since `pause` costs from ~10 to ~140 cycles across x86 cores.
int64_t spin_iterations() {
  static const int64_t n = [] {
    std::atomic<uint32_t> x{0};
    constexpr int64_t kProbe = 20000;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < kProbe; ++i) {
      cpu_relax();
      if (x.load(std::memory_order_relaxed) != 0) break;
    }
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    const double per = std::max(ns / kProbe, 0.5);
    return static_cast<int64_t>(std::chrono::duration<double, std::nano>(kSpin).count() / per);
  }();
  return n;
}

// Waits until word != seen: spins, then sleeps (counted in sleepers so the
// writer knows whether a wake syscall is needed).
void wait_change(std::atomic<uint32_t>& word, uint32_t seen, std::atomic<uint32_t>& sleepers) {
  for (int64_t i = spin_iterations(); i > 0; --i) {
    if (word.load(std::memory_order_acquire) != seen) return;
    cpu_relax();
  }
  sleepers.fetch_add(1);
  while (word.load() == seen) futex_wait(word, seen);
  sleepers.fetch_sub(1);
}

thread_local bool t_in_parallel = false;

class Pool {
 public:
  explicit Pool(int n) : n_(n) {
    for (int w = 1; w < n; ++w) workers_.emplace_back([this, w] { worker(w); });
  }
  ~Pool() {
    stop_.store(true);
    gen_.fetch_add(1);
    futex_wake_all(gen_);
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }

  void run(int64_t n, int limit, detail::ItemFn fn, void* ctx) {
    std::lock_guard<std::mutex> lock(submit_);
    fn_.store(fn, std::memory_order_relaxed);
    ctx_.store(ctx, std::memory_order_relaxed);
    n_items_.store(static_cast<uint32_t>(n), std::memory_order_relaxed);
    limit_.store(limit, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const uint32_t g = gen_.load(std::memory_order_relaxed) + 1;
    state_.store(uint64_t{g} << 32, std::memory_order_release);
    gen_.store(g);
    if (sleepers_.load() > 0) futex_wake_all(gen_);
    claim_items(g);
    // Every item claimed; wait for the ones other threads are running.
    const uint32_t total = static_cast<uint32_t>(n);
    for (int64_t i = spin_iterations(); i > 0 && done_.load(std::memory_order_acquire) != total; --i) cpu_relax();
    if (done_.load(std::memory_order_acquire) != total) {
      caller_sleeping_.store(1);
      for (uint32_t d = done_.load(); d != total; d = done_.load()) futex_wait(done_, d);
      caller_sleeping_.store(0);
    }
    // Close the job before the next one rewrites fn_/ctx_/n_items_: a thread
    // that read this job's generation can no longer claim (acq_rel: the
    // next job's stores stay after it).
    state_.exchange(uint64_t{g} << 32 | kClosed, std::memory_order_acq_rel);
  }

 private:
  // Claims and runs items of job g until none is left. The job's fields are
  // read after the state and trusted only once the CAS succeeds: a successful
  // CAS on generation g means job g was still open, so they were its own.
  void claim_items(uint32_t g) {
    const bool outer = t_in_parallel;
    t_in_parallel = true;
    uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (static_cast<uint32_t>(s >> 32) != g) break;
      const detail::ItemFn fn = fn_.load(std::memory_order_relaxed);
      void* const ctx = ctx_.load(std::memory_order_relaxed);
      const uint32_t n = n_items_.load(std::memory_order_relaxed);
      const uint32_t i = static_cast<uint32_t>(s);
      if (i >= n) break;
      if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      fn(ctx, i);
      if (done_.fetch_add(1) + 1 == n && caller_sleeping_.load() != 0) futex_wake_all(done_);
      s = state_.load(std::memory_order_acquire);
    }
    t_in_parallel = outer;
  }

  void worker(int w) {
    uint32_t seen = 0;
    for (;;) {
      wait_change(gen_, seen, sleepers_);
      if (stop_.load()) return;
      seen = gen_.load();
      if (w < limit_.load(std::memory_order_relaxed)) claim_items(seen);
    }
  }

  const int n_;
  std::vector<std::thread> workers_;
  std::mutex submit_;
  std::atomic<uint64_t> state_{0};
  std::atomic<uint32_t> gen_{0};       // futex word the idle workers sleep on
  std::atomic<uint32_t> done_{0};      // items finished in the current job; the caller's futex word
  std::atomic<uint32_t> sleepers_{0};
  std::atomic<uint32_t> caller_sleeping_{0};
  std::atomic<bool> stop_{false};
  std::atomic<detail::ItemFn> fn_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<uint32_t> n_items_{0};
  std::atomic<int> limit_{0};
};

std::mutex g_config;  // guards g_pool's replacement
std::atomic<int> g_threads{0};  // 0: not set yet
std::unique_ptr<Pool> g_pool;

Pool* pool_for(int n) {
  std::lock_guard<std::mutex> lock(g_config);
  if (!g_pool || g_pool->size() != n) {
    g_pool.reset();
    g_pool = std::make_unique<Pool>(n);
  }
  return g_pool.get();
}

}  // namespace

void set_threads(int n) { g_threads.store(std::max(1, n)); }

// Read on every matmul: an atomic, not the pool's lock.
int threads() {
  int t = g_threads.load(std::memory_order_relaxed);
  if (t == 0) {
    int unset = 0;
    g_threads.compare_exchange_strong(unset, std::max(1, omp_get_max_threads()));
    t = g_threads.load();
  }
  return t;
}

bool in_parallel() { return t_in_parallel; }

namespace detail {

void parallel_for(int64_t n, int max_threads, ItemFn fn, void* ctx) {
  if (n <= 0) return;
  const int all = threads();
  const int t = static_cast<int>(std::min<int64_t>({max_threads > 0 ? max_threads : all, all, n}));
  if (t <= 1 || t_in_parallel || n >= int64_t{kClosed}) {
    // Serially; a single item may still run nested parallel_fors.
    for (int64_t i = 0; i < n; ++i) fn(ctx, i);
    return;
  }
  pool_for(all)->run(n, t, fn, ctx);
}

}  // namespace detail
}  // namespace moerun
