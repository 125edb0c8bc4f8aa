// moerun info: what a GGUF file holds (metadata, tensors, sizes, what a token
// costs), or with --system what this machine offers moerun.

#include <cstdio>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/compute/thread_pool.h"
#include "core/error.h"
#include "quant/format.h"
#include "simd/dispatch.h"

namespace moerun::cli {

namespace {

struct InfoOptions {
  std::string model;
  bool tensors = false;
  bool system = false;
  bool mlock = false;
  bool no_mmap = false;
};

std::string human_bytes(double b) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.2f %s", b, unit[u]);
  return buf;
}

std::string value_text(const GgufValue& v) {
  switch (v.type) {
    case GgufType::kString: {
      std::string s(v.str.substr(0, 80));
      for (char& c : s) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
      }
      return "\"" + s + (v.str.size() > 80 ? "...\" (" + std::to_string(v.str.size()) + " bytes)" : "\"");
    }
    case GgufType::kArray:
      return std::string("[") + gguf_type_name(v.elem_type) + " x " + std::to_string(v.count) + "]";
    case GgufType::kBool: return v.u ? "true" : "false";
    case GgufType::kF32: case GgufType::kF64: {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%g", v.f);
      return buf;
    }
    case GgufType::kI8: case GgufType::kI16: case GgufType::kI32: case GgufType::kI64: return std::to_string(v.i);
    default: return std::to_string(v.u);
  }
}

void print_system() {
  // What dispatch saw (CPUID/HWCAP), what it chose (MOERUN_ISA or the best
  // row, simd/isa_list.def) and the OpenMP threads the kernels split over.
  const KernelTable& k = kernels();
  std::printf("cpu features: %s\n", cpu_features().c_str());
  std::string runnable;
  for (int i = 0; i < kIsaCount; ++i) {
    if (!isa_supported(static_cast<Isa>(i))) continue;
    runnable += runnable.empty() ? "" : " ";
    runnable += isa_name(static_cast<Isa>(i));
  }
  std::printf("isas available: %s\nisa: %s\nthreads: %d\n", runnable.c_str(), k.name, threads());
}

void print_model(const InfoOptions& o) {
  ModelOptions mo;
  mo.model = o.model;
  mo.mlock = o.mlock;
  mo.no_mmap = o.no_mmap;
  const std::string path = model_path(mo);
  auto f = GgufFile::open(path, load_mode(mo));
  std::printf("file: %s\n", path.c_str());
  std::printf("gguf version: %u, %s, %zu metadata keys, %zu tensors, alignment %llu\n", f->version(),
              human_bytes(static_cast<double>(f->file_size())).c_str(), f->metadata().size(), f->tensors().size(),
              static_cast<unsigned long long>(f->alignment()));

  std::printf("\nmetadata:\n");
  for (const auto& [key, v] : f->metadata()) std::printf("  %-48s %s\n", key.c_str(), value_text(v).c_str());

  int64_t n_params = 0;
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  for (const GgufTensor& t : f->tensors()) {
    n_params += t.n_elements();
    auto& e = by_type[format_traits(static_cast<QType>(t.type)).name];
    e.first += 1;
    e.second += t.nbytes;
  }
  if (!f->tensors().empty()) {
    std::printf("\ntensors: %zu, %.3f M parameters\n", f->tensors().size(), static_cast<double>(n_params) / 1e6);
    for (const auto& [name, e] : by_type) {
      std::printf("  %-6s %5d tensors  %s\n", name.c_str(), e.first, human_bytes(static_cast<double>(e.second)).c_str());
    }
  }
  if (o.tensors) {
    std::printf("\n  %-40s %-6s %-28s %s\n", "name", "type", "shape", "offset");
    for (const GgufTensor& t : f->tensors()) {
      std::string shape = "[";
      for (int d = 0; d < t.n_dims; ++d) shape += (d ? ", " : "") + std::to_string(t.ne[d]);
      shape += "]";
      std::printf("  %-40s %-6s %-28s %llu\n", t.name.c_str(), format_traits(static_cast<QType>(t.type)).name,
                  shape.c_str(), static_cast<unsigned long long>(f->data_offset() + t.offset));
    }
  }
  if (f->tensors().empty()) {
    std::printf("\n(no tensors: a vocabulary-only file)\n");
    return;
  }
  auto model = load_model(*f);
  const ModelInfo& mi = model->info();
  std::printf("\nmodel: %s, %lld layers, n_embd %lld, n_vocab %lld, trained context %lld\n", mi.arch.c_str(),
              static_cast<long long>(mi.n_layer), static_cast<long long>(mi.n_embd),
              static_cast<long long>(mi.n_vocab), static_cast<long long>(mi.n_ctx_train));
  if (mi.n_expert > 0) {
    std::printf("experts: %lld routed (top-%lld), %lld shared\n", static_cast<long long>(mi.n_expert),
                static_cast<long long>(mi.n_expert_used), static_cast<long long>(mi.n_expert_shared));
  }
  std::printf("per token: %.3f M active parameters, %s of weights read\n",
              static_cast<double>(mi.n_params_active) / 1e6, human_bytes(static_cast<double>(mi.bytes_active)).c_str());
}

}  // namespace

void add_info_command(CLI::App& app) {
  auto o = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a GGUF model file, or this machine with --system");
  cmd->add_option("model", o->model, "GGUF file (default: the small model shipped with moerun)");
  cmd->add_flag("--tensors", o->tensors, "list every tensor with its type, shape and file offset");
  cmd->add_flag("--system", o->system, "print the CPU features, the kernel ISA chosen and the thread count");
  cmd->add_flag("--mlock", o->mlock, "map the model and lock its pages in RAM");
  cmd->add_flag("--no-mmap", o->no_mmap, "read the model into memory instead of mapping it");
  cmd->callback([o] {
    if (o->system) {
      print_system();
    } else {
      print_model(*o);
    }
  });
}

}  // namespace moerun::cli
