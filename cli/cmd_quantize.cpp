// moerun quantize IN OUT TYPE: rewrites every weight matrix in TYPE ("pure":
// no per-tensor mixes), keeping norms, router gates and 1-D tensors as they
// are. A tensor whose row length does not fit TYPE's block falls back the
// way llama.cpp's quantizer does (Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0, then
// F16 if even that does not fit), and each fallback is reported.

#include <cstdio>
#include <memory>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "core/error.h"
#include "core/gguf/gguf_writer.h"
#include "quant/format.h"

namespace moerun::cli {

namespace {

struct QuantizeOptions {
  std::string in;
  std::string out;
  std::string type;
  int threads = 0;
};

// Which tensors hold weights worth quantizing (llama.cpp's rule, in short):
// 2-D/3-D tensors named *weight, except norms and MoE router gates.
bool quantizable(const GgufTensor& t) {
  const std::string& n = t.name;
  if (t.n_dims < 2) return false;
  if (n.size() < 6 || n.compare(n.size() - 6, 6, "weight") != 0) return false;
  if (n.find("_norm.weight") != std::string::npos) return false;
  if (n.find("ffn_gate_inp.weight") != std::string::npos) return false;
  return true;
}

// llama_ftype value recorded in general.file_type (llama.h).
int file_type_of(QType t) {
  switch (t) {
    case QType::F32: return 0;
    case QType::F16: return 1;
    case QType::Q4_0: return 2;
    case QType::Q4_1: return 3;
    case QType::Q8_0: return 7;
    case QType::Q5_0: return 8;
    case QType::Q5_1: return 9;
    case QType::Q4_K: return 15;  // Q4_K_M: the name users know for q4_k files
    case QType::Q5_K: return 17;  // Q5_K_M
    case QType::Q6_K: return 18;
    case QType::BF16: return 32;
    default: return -1;
  }
}

void run_quantize(const QuantizeOptions& o) {
  apply_threads(o.threads);
  const FormatTraits* target = find_format(o.type);
  if (target == nullptr || target->quantize == nullptr || file_type_of(target->type) < 0) {
    fail("quantize: unknown or unsupported target type '" + o.type +
         "' (use one of: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k)");
  }
  auto in = GgufFile::open(o.in);
  GgufWriter w;
  w.set_alignment(static_cast<uint32_t>(in->alignment()));
  for (const auto& [key, v] : in->metadata()) {
    if (key != "general.alignment") w.set_value(key, v);
  }
  w.set_u32("general.file_type", static_cast<uint32_t>(file_type_of(target->type)));
  w.set_u32("general.quantization_version", 2);

  int n_fallback = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  for (const GgufTensor& t : in->tensors()) {
    const QType src = static_cast<QType>(t.type);
    QType dst = src;
    if (quantizable(t)) {
      dst = fallback_type(target->type, t.ne[0]);
      if (dst != target->type) {
        ++n_fallback;
        std::fprintf(stderr, "quantize: %s: row length %lld is not a multiple of %lld (%s): using %s\n",
                     t.name.c_str(), static_cast<long long>(t.ne[0]),
                     static_cast<long long>(target->block_size), target->name, format_traits(dst).name);
      }
    }
    std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
    bytes_in += t.nbytes;
    bytes_out += row_bytes(dst, t.ne[0]) * static_cast<uint64_t>(t.n_rows());
    if (dst == src) {
      w.add_tensor_copy(t.name, dst, ne, t.data);
      continue;
    }
    const GgufTensor* tp = &t;
    w.add_tensor(t.name, dst, ne, [tp, src, dst](uint8_t* out) {
      const int64_t K = tp->ne[0];
      const FormatTraits& sf = format_traits(src);
      const FormatTraits& df = format_traits(dst);
      const size_t in_row = row_bytes(src, K), out_row = row_bytes(dst, K);
#pragma omp parallel
      {
        std::vector<float> row(static_cast<size_t>(K));
#pragma omp for schedule(static)
        for (int64_t r = 0; r < tp->n_rows(); ++r) {
          sf.dequantize(tp->data + r * in_row, row.data(), K);
          df.quantize(row.data(), out + r * out_row, K);
        }
      }
    });
  }
  // A bar on a terminal; logs and pipes get only the summary.
  Progress bar("quantize", static_cast<int64_t>(in->tensors().size()), "tensors");
  w.write(o.out, [&](size_t i, size_t) { bar.update(static_cast<int64_t>(i)); });
  bar.finish();
  std::fprintf(stderr, "quantize: %s -> %s (%s): %.2f MiB -> %.2f MiB, %d tensor(s) fell back\n", o.in.c_str(),
               o.out.c_str(), target->name, bytes_in / 1048576.0, bytes_out / 1048576.0, n_fallback);
}

}  // namespace

void add_quantize_command(CLI::App& app) {
  auto o = std::make_shared<QuantizeOptions>();
  CLI::App* cmd = app.add_subcommand("quantize", "Rewrite a GGUF model's weight matrices in another block format");
  cmd->add_option("input", o->in, "source GGUF file")->required();
  cmd->add_option("output", o->out, "GGUF file to write")->required();
  cmd->add_option("type", o->type, "target type: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k")->required();
  cmd->add_option("-t,--threads", o->threads, "threads (default: one per core)")->check(CLI::NonNegativeNumber);
  cmd->callback([o] { run_quantize(*o); });
}

}  // namespace moerun::cli
