// Kernel benchmark: GEMV bandwidth per weight format on a matrix much larger
// than the caches (256 MB), GEMM tile throughput, and the machine's
// STREAM-triad bandwidth measured by this same binary, so the ratio
// GEMV / triad comes from one run. The triad is timed again between the
// GEMV repetitions of every format and each ratio uses those triads: on a
// shared host the bandwidth drifts within a run (a triad taken once at the
// start made ratios of 54% and 199% in two runs minutes apart).
// Validates each format against the scalar reference before timing. Never
// gates CI.
//   bench_kernels [--mb 256] [--reps 5] [--k 4096] [--formats q4_0,q8_0,...] [--gemm-b 64,...]
// --k: the row length K (a multiple of 32; formats whose blocks do not fit
// it, the K-quants below 256, are skipped).
// --gemm-b: the activation rows of the GEMM column (one column per value).
// Threads: OMP_NUM_THREADS (the default is every core); ISA: MOERUN_ISA.
// Memory is anonymous and touched before timing (DESIGN §3: mapped pages get
// reclaimed on these VMs; anonymous pages do not).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/compute/matmul.h"
#include "core/compute/thread_pool.h"
#include "simd/dispatch.h"

namespace {

using namespace moerun;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// STREAM triad a = b + s*c over three arrays of bytes_total / 3; bytes
// counted as 3 arrays (STREAM's convention).
class Triad {
 public:
  explicit Triad(size_t bytes_total) : n_(bytes_total / 3 / sizeof(float)), a_(n_), b_(n_, 1.f), c_(n_, 2.f) {
    once();  // touches the pages
  }
  // Seconds of one pass.
  double once() {
    const float s = 3.f;
    float* a = a_.data();
    const float* b = b_.data();
    const float* c = c_.data();
    const auto t0 = Clock::now();
    // On the threads the kernels use: OpenMP workers spinning after a region
    // of their own would take the CPU from the GEMV that follows.
    const int64_t chunks = int64_t{threads()} * 8;
    const size_t n = n_;
    parallel_for(chunks, [&](int64_t k) {
      const size_t i1 = n * (k + 1) / chunks;
      for (size_t i = n * k / chunks; i < i1; ++i) a[i] = b[i] + s * c[i];
    });
    const double t = seconds_since(t0);
    if (a[n_ / 2] != 7.f) std::fprintf(stderr, "triad: wrong result\n");
    return t;
  }
  double gbs(double seconds) const { return 3.0 * n_ * sizeof(float) / seconds / 1e9; }

 private:
  size_t n_;
  std::vector<float> a_, b_, c_;
};

struct Weight {
  std::vector<uint8_t> bytes;
  TensorView view;
};

// One quantized random row, copied to every row: the speed does not depend
// on the values, and quantizing 256 MB with the K-quant searches takes minutes.
Weight make_weight(const FormatTraits& f, int64_t K, int64_t N, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> row(K);
  for (float& v : row) v = nd(rng);
  Weight w;
  const size_t rb = row_bytes(f.type, K);
  w.bytes.resize(rb * N);
  f.quantize(row.data(), w.bytes.data(), K);
  for (int64_t n = 1; n < N; ++n) std::memcpy(w.bytes.data() + n * rb, w.bytes.data(), rb);
  w.view.type = f.type;
  w.view.n_dims = 2;
  w.view.ne[0] = K;
  w.view.ne[1] = N;
  w.view.data = w.bytes.data();
  w.view.row_bytes = rb;
  return w;
}

bool validate(const Weight& w, const std::vector<float>& x, int64_t B) {
  const int64_t K = w.view.ne[0], N = std::min<int64_t>(w.view.ne[1], 64);
  TensorView v = w.view;
  v.ne[1] = N;
  std::vector<float> y(N * B);
  matmul(v, x.data(), K, B, y.data(), N);
  const FormatTraits& f = format_traits(w.view.type);
  const FormatTraits& af = format_traits(f.vec_dot_type);
  std::vector<uint8_t> a(row_bytes(af.type, K));
  for (int64_t b = 0; b < B; ++b) {
    af.quantize_act(x.data() + b * K, a.data(), K);
    for (int64_t n = 0; n < N; ++n) {
      const float want = f.vec_dot(K, w.view.row(n), a.data());
      if (!(std::fabs(y[b * N + n] - want) <= 1e-3f * (1 + std::fabs(want)))) return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  double mb = 256;
  int reps = 5;
  std::string only;
  int64_t K = 4096;
  std::vector<int64_t> gemm_bs = {64};
  for (int i = 1; i < argc; i += 2) {
    const bool has_value = i + 1 < argc;
    if (has_value && !std::strcmp(argv[i], "--mb")) {
      mb = std::atof(argv[i + 1]);
    } else if (has_value && !std::strcmp(argv[i], "--reps")) {
      reps = std::atoi(argv[i + 1]);
    } else if (has_value && !std::strcmp(argv[i], "--k")) {
      K = std::atol(argv[i + 1]);
    } else if (has_value && !std::strcmp(argv[i], "--formats")) {
      only = std::string(",") + argv[i + 1] + ",";
    } else if (has_value && !std::strcmp(argv[i], "--gemm-b")) {
      gemm_bs.clear();
      for (const char* c = argv[i + 1]; *c != '\0';) {
        gemm_bs.push_back(std::max(1L, std::strtol(c, const_cast<char**>(&c), 10)));
        if (*c == ',') ++c;
        else if (*c != '\0') break;
      }
    } else {
      std::fprintf(stderr,
                   "usage: bench_kernels [--mb 256] [--reps 5] [--k 4096] [--formats q4_0,q8_0,...] [--gemm-b 64,...]\n"
                   "threads: OMP_NUM_THREADS (default: every core); ISA: MOERUN_ISA\n");
      return std::strcmp(argv[i], "--help") && std::strcmp(argv[i], "-h") ? 2 : 0;
    }
  }
  if (!(mb > 0) || reps < 1 || K < 32 || K % 32 != 0) {
    std::fprintf(stderr, "bench_kernels: --mb and --reps must be positive, --k a positive multiple of 32\n");
    return 2;
  }
  const size_t bytes = static_cast<size_t>(mb * 1024 * 1024);
  std::printf("bench_kernels: isa %s, %d threads, %.0f MB matrices, K %lld, best of %d\n", kernels().name,
              threads(), mb, static_cast<long long>(K), reps);
  // A VM may report its host's whole L3 (260 MB on the 2-vCPU Xeon moerun's
  // kernels were tuned on, shared with other guests): say so when the matrix
  // is not much larger, so a reader can rerun with a bigger --mb.
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
  if (l3 > 0 && static_cast<double>(bytes) < 4.0 * l3) {
    std::printf("note: L3 reported as %.0f MB; matrices of %.0f MB are not much larger (try --mb %.0f)\n",
                l3 / 1048576.0, mb, 4.0 * l3 / 1048576.0);
  }
  Triad triad(bytes);
  double triad_all = 1e30;
  for (int r = 0; r < reps; ++r) triad_all = std::min(triad_all, triad.once());
  std::printf("stream triad: %.1f GB/s (before the formats; each row's %%triad uses the triads timed between its GEMVs)\n",
              triad.gbs(triad_all));

  std::mt19937 rng(42);
  const QType types[] = {QType::Q4_0, QType::Q8_0, QType::Q4_K, QType::Q5_K, QType::Q6_K, QType::Q4_1,
                         QType::Q5_0,  QType::Q5_1, QType::F16,  QType::BF16, QType::F32};
  std::printf("%-6s %10s %10s %8s %9s", "format", "gemv GB/s", "triad GB/s", "%triad", "Gweight/s");
  for (int64_t B : gemm_bs) std::printf(" %9s", ("B=" + std::to_string(B)).c_str());
  std::printf("   (gemm GOP/s)\n");
  const int64_t max_b = *std::max_element(gemm_bs.begin(), gemm_bs.end());
  for (QType t : types) {
    const FormatTraits& f = format_traits(t);
    if (!only.empty() && only.find(std::string(",") + f.name + ",") == std::string::npos) continue;
    if (K % f.block_size != 0) {
      std::printf("%-6s skipped: K %lld is not a multiple of its %lld-element blocks\n", f.name,
                  static_cast<long long>(K), static_cast<long long>(f.block_size));
      continue;
    }
    const int64_t N = static_cast<int64_t>(bytes / row_bytes(t, K));
    Weight w = make_weight(f, K, N, rng);
    std::vector<float> x(K * std::max<int64_t>(64, max_b));
    std::normal_distribution<float> nd(0.f, 1.f);
    for (float& v : x) v = nd(rng);
    if (!validate(w, x, 1) || !validate(w, x, 17)) {
      std::printf("%-6s FAILED validation against the scalar reference\n", f.name);
      return 1;
    }
    std::vector<float> y(std::max(N, int64_t{4096}) * std::max<int64_t>(64, max_b));
    double best = 1e30, tbest = 1e30;
    for (int r = 0; r < reps + 1; ++r) {
      const double t = triad.once();
      const auto t0 = Clock::now();
      matmul(w.view, x.data(), K, 1, y.data(), N);
      if (r > 0) best = std::min(best, seconds_since(t0));
      tbest = std::min(tbest, t);
    }
    const double gbs = static_cast<double>(w.bytes.size()) / best / 1e9;
    const double tgbs = triad.gbs(tbest);
    std::printf("%-6s %10.1f %10.1f %7.0f%% %9.1f", f.name, gbs, tgbs, 100 * gbs / tgbs,
                static_cast<double>(N) * K / best / 1e9);
    // GEMM: B activation rows over a 4096-row slice (fits no cache level
    // whole, but each tile of rows is reused by every column from L2).
    TensorView sub = w.view;
    sub.ne[1] = std::min<int64_t>(N, 4096);
    for (int64_t B : gemm_bs) {
      double gbest = 1e30;
      for (int r = 0; r < std::max(2, reps / 2) + 1; ++r) {
        const auto t0 = Clock::now();
        matmul(sub, x.data(), K, B, y.data(), sub.ne[1]);
        if (r > 0) gbest = std::min(gbest, seconds_since(t0));
      }
      std::printf(" %9.0f", 2.0 * sub.ne[1] * K * B / gbest / 1e9);
    }
    std::printf("\n");
  }
  return 0;
}
