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
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "core/error.h"

namespace moerun {
namespace {

// How long a waiting thread spins before it sleeps. Between two parallel
// regions of one decode step the other threads wait a few to a few tens of
// microseconds (norms, RoPE, routing run on the caller); a futex wake costs
// ~50 us on the 2-vCPU VMs measured, so spinning must bridge those gaps. Past
// this, the wait is a preempted peer or the end of the step, and the CPU is
// better given back.
constexpr auto kSpin = std::chrono::microseconds(100);

// Items of a job are split into one contiguous range per thread. A range
// word packs the job's generation (24 bits: a thread stalled between reading
// the generation and claiming would need 16M jobs, minutes of decode, to
// pass before it could mistake a new job for its own) and the range's next
// unclaimed item and end (20 bits each): a thread claims from the front of its own
// range, then from the back of the fullest other one. Matmul chunks are
// consecutive rows, so each thread streams its rows in order and the
// hardware prefetcher runs on from one chunk into the next; with one shared
// counter the threads' chunks interleaved and every chunk started cold.
constexpr int kItemBits = 20;
constexpr uint32_t kGenMask = 0xFFFFFFu;
constexpr uint64_t kItemMask = (uint64_t{1} << kItemBits) - 1;
constexpr uint64_t kMaxItems = kItemMask;  // larger jobs run serially

inline uint64_t range_word(uint32_t gen, uint64_t lo, uint64_t hi) {
  return uint64_t{gen & kGenMask} << (2 * kItemBits) | lo << kItemBits | hi;
}
inline uint32_t word_gen(uint64_t w) { return static_cast<uint32_t>(w >> (2 * kItemBits)); }
inline uint64_t word_lo(uint64_t w) { return (w >> kItemBits) & kItemMask; }
inline uint64_t word_hi(uint64_t w) { return w & kItemMask; }

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
  // Thread creation fails under a process or address-space limit (each
  // thread reserves a stack): the workers already started are stopped and
  // the failure becomes a runtime Error, not std::terminate from a joinable
  // std::thread destroyed with the half-built pool.
  explicit Pool(int n) : n_(n), ranges_(static_cast<size_t>(n)) {
    try {
      for (int w = 1; w < n; ++w) workers_.emplace_back([this, w] { worker(w); });
    } catch (const std::system_error& e) {
      stop_workers();
      fail_runtime("cannot start " + std::to_string(n) + " threads (" + e.what() + "): lower -t, or raise the limit " +
                   "on processes or address space");
    }
  }
  ~Pool() { stop_workers(); }
  int size() const { return n_; }

  void run(int64_t n, int limit, detail::ItemFn fn, void* ctx) {
    std::lock_guard<std::mutex> lock(submit_);
    fn_.store(fn, std::memory_order_relaxed);
    ctx_.store(ctx, std::memory_order_relaxed);
    n_items_.store(static_cast<uint32_t>(n), std::memory_order_relaxed);
    limit_.store(limit, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const uint32_t g = (gen_.load(std::memory_order_relaxed) + 1) & kGenMask;
    for (int t = 0; t < n_; ++t) {
      const uint64_t lo = t < limit ? static_cast<uint64_t>(n * t / limit) : 0;
      const uint64_t hi = t < limit ? static_cast<uint64_t>(n * (t + 1) / limit) : 0;
      ranges_[t].word.store(range_word(g, lo, hi), std::memory_order_relaxed);
    }
    gen_.store(g);  // seq_cst: publishes the job's fields and ranges
    if (sleepers_.load() > 0) futex_wake_all(gen_);
    claim_items(g, 0, limit);
    // Every item claimed; wait for the ones other threads are running.
    const uint32_t total = static_cast<uint32_t>(n);
    for (int64_t i = spin_iterations(); i > 0 && done_.load(std::memory_order_acquire) != total; --i) cpu_relax();
    if (done_.load(std::memory_order_acquire) != total) {
      caller_sleeping_.store(1);
      for (uint32_t d = done_.load(); d != total; d = done_.load()) futex_wait(done_, d);
      caller_sleeping_.store(0);
    }
  }

 private:
  void stop_workers() {
    stop_.store(true);
    gen_.fetch_add(1);
    futex_wake_all(gen_);
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  struct alignas(64) Range {
    std::atomic<uint64_t> word{0};
  };

  // Claims item lo of range r (front) or hi - 1 (back) for job g; false
  // when the range is empty or belongs to another job.
  bool take(int r, uint32_t g, bool front, uint64_t& item) {
    uint64_t w = ranges_[r].word.load(std::memory_order_acquire);
    for (;;) {
      if (word_gen(w) != g) return false;
      const uint64_t lo = word_lo(w), hi = word_hi(w);
      if (lo >= hi) return false;
      const uint64_t next = front ? range_word(g, lo + 1, hi) : range_word(g, lo, hi - 1);
      if (ranges_[r].word.compare_exchange_weak(w, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        item = front ? lo : hi - 1;
        return true;
      }
    }
  }

  // Claims and runs items of job g until none is left: its own range `self`
  // front first, then the back of the range with the most left. The job's
  // fields are read after gen_ and trusted only once a claim succeeds: a
  // claim on generation g means job g still had items, so it was not done
  // and the next job had not rewritten them.
  void claim_items(uint32_t g, int self, int limit) {
    const bool outer = t_in_parallel;
    t_in_parallel = true;
    const detail::ItemFn fn = fn_.load(std::memory_order_relaxed);
    void* const ctx = ctx_.load(std::memory_order_relaxed);
    const uint32_t n = n_items_.load(std::memory_order_relaxed);
    for (;;) {
      uint64_t item = 0;
      bool got = take(self, g, true, item);
      while (!got) {
        int victim = -1;
        uint64_t most = 0;
        for (int r = 0; r < limit; ++r) {
          const uint64_t w = ranges_[r].word.load(std::memory_order_acquire);
          if (word_gen(w) == g && word_hi(w) > word_lo(w) && word_hi(w) - word_lo(w) > most) {
            most = word_hi(w) - word_lo(w);
            victim = r;
          }
        }
        if (victim < 0) break;
        got = take(victim, g, false, item);
      }
      if (!got) break;
      fn(ctx, static_cast<int64_t>(item));
      if (done_.fetch_add(1) + 1 == n && caller_sleeping_.load() != 0) futex_wake_all(done_);
    }
    t_in_parallel = outer;
  }

  void worker(int w) {
    uint32_t seen = 0;
    for (;;) {
      wait_change(gen_, seen, sleepers_);
      if (stop_.load()) return;
      seen = gen_.load();
      const int limit = limit_.load(std::memory_order_relaxed);
      if (w < limit) claim_items(seen, w, limit);
    }
  }

  const int n_;
  std::vector<std::thread> workers_;
  std::vector<Range> ranges_;         // one per thread, the caller's first
  std::mutex submit_;
  std::atomic<uint32_t> gen_{0};       // futex word the idle workers sleep on (24 bits used)
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
  if (t <= 1 || t_in_parallel || n > static_cast<int64_t>(kMaxItems)) {
    // Serially; a single item may still run nested parallel_fors.
    for (int64_t i = 0; i < n; ++i) fn(ctx, i);
    return;
  }
  pool_for(all)->run(n, t, fn, ctx);
}

}  // namespace detail
}  // namespace moerun
