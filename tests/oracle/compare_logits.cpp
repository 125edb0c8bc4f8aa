// moerun_compare: how far moerun's logits are from a reference (DESIGN.md §7).
//
//   moerun_compare A.f32 B.f32 --n-vocab V [--max-rel-err E] [--min-top1 F] [--max-mean-kl K]
//
// A = moerun, B = reference (llama.cpp via moerun-oracle). Both files are float32,
// row-major, one row of V logits per position, the format of `moerun logits -o`.
// Prints one line:
//   positions N top1 P% max_abs_diff D max_abs_ref R rel_err D/R mean_kl K [worst_kl_pos I]
//   [first_top1_mismatch I]
// where mean_kl is the mean over positions of KL(softmax B || softmax A) in nats.
// --min-top1 takes a fraction in [0, 1]. Exit 0: within every threshold given; 1: outside
// one (or a non-finite logit); 2: bad usage or input (unreadable file, sizes disagree).

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<float> read_f32(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw BadInput("cannot open " + path);
  const std::streamoff bytes = f.tellg();
  if (bytes < 0 || bytes % std::streamoff(sizeof(float)) != 0)
    throw BadInput(path + ": size " + std::to_string(bytes) + " is not a whole number of float32");
  std::vector<float> v(size_t(bytes) / sizeof(float));
  f.seekg(0);
  if (!f.read(reinterpret_cast<char*>(v.data()), bytes)) throw BadInput("cannot read " + path);
  return v;
}

double parse_double(const std::string& opt, const std::string& s) {
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(d)) throw BadInput(opt + " expects a number, got '" + s + "'");
  return d;
}

// log(sum(exp(x))) in double, shifted by the maximum so large logits cannot overflow.
double log_sum_exp(const float* x, size_t n) {
  double m = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < n; ++i) m = std::max(m, double(x[i]));
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += std::exp(double(x[i]) - m);
  return m + std::log(s);
}

const char* kUsage =
    "usage: moerun_compare A.f32 B.f32 --n-vocab V [--max-rel-err E] [--min-top1 F] [--max-mean-kl K]\n"
    "  A = moerun's logits, B = the reference; --min-top1 is a fraction in [0, 1]\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  long long n_vocab = 0;
  std::optional<double> max_rel, min_top1, max_kl;
  std::vector<float> a, b;
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw BadInput(arg + " needs a value");
        return argv[++i];
      };
      if (arg == "--n-vocab") {
        std::string v = value();
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n_vocab);
        if (ec != std::errc() || p != v.data() + v.size() || n_vocab <= 0)
          throw BadInput("--n-vocab expects a positive integer, got '" + v + "'");
      } else if (arg == "--max-rel-err") {
        max_rel = parse_double(arg, value());
      } else if (arg == "--min-top1") {
        min_top1 = parse_double(arg, value());
        if (*min_top1 < 0 || *min_top1 > 1) throw BadInput("--min-top1 is a fraction in [0, 1] (0.98, not 98)");
      } else if (arg == "--max-mean-kl") {
        max_kl = parse_double(arg, value());
      } else if (arg == "-h" || arg == "--help") {
        std::fputs(kUsage, stdout);
        return 0;
      } else if (!arg.empty() && arg[0] == '-') {
        throw BadInput("unknown option " + arg);
      } else {
        files.push_back(arg);
      }
    }
    if (files.size() != 2) throw BadInput("need exactly two files");
    if (n_vocab == 0) throw BadInput("--n-vocab is required");
    a = read_f32(files[0]);
    b = read_f32(files[1]);
    if (a.size() != b.size())
      throw BadInput("sizes disagree: " + files[0] + " has " + std::to_string(a.size()) + " floats, " + files[1] +
                     " has " + std::to_string(b.size()));
    if (a.empty() || a.size() % size_t(n_vocab) != 0)
      throw BadInput(std::to_string(a.size()) + " floats is not a positive whole number of rows of " +
                     std::to_string(n_vocab));
  } catch (const BadInput& e) {
    std::fprintf(stderr, "moerun_compare: %s\n%s", e.what(), kUsage);
    return 2;
  }

  const size_t V = size_t(n_vocab);
  const size_t n_pos = a.size() / V;
  size_t agree = 0;
  long long first_mismatch = -1;
  double max_diff = 0, max_ref = 0, kl_sum = 0, worst_kl = -1;
  size_t worst_kl_pos = 0;
  bool finite = true;
  for (size_t p = 0; p < n_pos; ++p) {
    const float* ra = a.data() + p * V;
    const float* rb = b.data() + p * V;
    for (size_t i = 0; i < V; ++i) {
      if (!std::isfinite(ra[i]) || !std::isfinite(rb[i])) finite = false;
      max_diff = std::max(max_diff, std::fabs(double(ra[i]) - double(rb[i])));
      max_ref = std::max(max_ref, std::fabs(double(rb[i])));
    }
    // A's choice counts as agreeing when the reference scores it as high as its own
    // argmax: with an exact tie in B either token is a correct greedy pick.
    const size_t top_a = size_t(std::max_element(ra, ra + V) - ra);
    const float max_b = *std::max_element(rb, rb + V);
    if (rb[top_a] == max_b) ++agree;
    else if (first_mismatch < 0) first_mismatch = (long long)p;
    // KL(P_B || P_A) = sum_i p_B(i) (log p_B(i) - log p_A(i)), log-softmax in double.
    const double lse_a = log_sum_exp(ra, V), lse_b = log_sum_exp(rb, V);
    double kl = 0;
    for (size_t i = 0; i < V; ++i) {
      const double lb = double(rb[i]) - lse_b, la = double(ra[i]) - lse_a;
      kl += std::exp(lb) * (lb - la);
    }
    kl_sum += kl;
    if (!(kl <= worst_kl)) { worst_kl = kl; worst_kl_pos = p; }
  }
  const double top1 = double(agree) / double(n_pos);
  const double rel = max_ref > 0 ? max_diff / max_ref : (max_diff > 0 ? INFINITY : 0.0);
  const double mean_kl = kl_sum / double(n_pos);

  std::printf("positions %zu top1 %.2f%% max_abs_diff %.4g max_abs_ref %.4g rel_err %.4g mean_kl %.4g worst_kl_pos %zu",
              n_pos, 100.0 * top1, max_diff, max_ref, rel, mean_kl, worst_kl_pos);
  if (first_mismatch >= 0) std::printf(" first_top1_mismatch %lld", first_mismatch);
  if (!finite) std::printf(" NON-FINITE");
  std::printf("\n");

  // Written as !(x within limit) so a NaN fails instead of slipping through.
  bool ok = finite;
  if (max_rel && !(rel <= *max_rel)) ok = false;
  if (min_top1 && !(top1 >= *min_top1)) ok = false;
  if (max_kl && !(mean_kl <= *max_kl)) ok = false;
  return ok ? 0 : 1;
}
