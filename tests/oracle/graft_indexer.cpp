// moerun_graft_indexer: turns a deepseek2 GGUF into a deepseek32 one by adding a
// lightning indexer with random weights to every layer (DeepSeek Sparse Attention), so the
// trained tiny DeepSeek model can check DSA against llama.cpp: its smooth activations keep
// the two engines' indexer scores within float noise, where a random model's chaotic ones
// move keys across the top-k cut under Q8_0 (tests/oracle/test_deepseek32.sh).
//
//   moerun_graft_indexer IN.gguf OUT.gguf --heads H --head-dim D --top-k K [--seed S]
//
// Every key and tensor of IN is copied (deepseek2.* keys renamed deepseek32.*), then per
// layer: indexer.attn_q_b [q_lora_rank, H*D], indexer.attn_k [n_embd, D] (N(0, 4/fan_in):
// gain 2, peaked scores), indexer.k_norm weight ~1 and bias ~N(0, 0.01), indexer.proj
// [n_embd, H] (N(0, 1/fan_in)), all F32, and the three attention.indexer.* keys.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/gguf/gguf.h"
#include "core/gguf/gguf_writer.h"

using namespace moerun;

namespace {

int64_t arg_int(int argc, char** argv, const char* name, int64_t dflt) {
  for (int i = 3; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::stoll(argv[i + 1]);
  }
  if (dflt < 0) throw Error(std::string("missing ") + name);
  return dflt;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 3) throw Error("usage: moerun_graft_indexer IN.gguf OUT.gguf --heads H --head-dim D --top-k K [--seed S]");
    const int64_t H = arg_int(argc, argv, "--heads", -1), D = arg_int(argc, argv, "--head-dim", -1);
    const int64_t K = arg_int(argc, argv, "--top-k", -1), seed = arg_int(argc, argv, "--seed", 1);
    auto in = GgufFile::open(argv[1]);
    if (in->architecture() != "deepseek2") throw Error(std::string(argv[1]) + " is not a deepseek2 file");
    GgufWriter w;
    for (const auto& [key, value] : in->metadata()) {
      if (key == "general.architecture") continue;
      if (key.rfind("deepseek2.", 0) == 0) {
        w.set_value("deepseek32." + key.substr(10), value);
      } else {
        w.set_value(key, value);
      }
    }
    w.set_string("general.architecture", "deepseek32");
    w.set_u32("deepseek32.attention.indexer.head_count", static_cast<uint32_t>(H));
    w.set_u32("deepseek32.attention.indexer.key_length", static_cast<uint32_t>(D));
    w.set_u32("deepseek32.attention.indexer.top_k", static_cast<uint32_t>(K));
    for (const GgufTensor& t : in->tensors()) {
      w.add_tensor_copy(t.name, static_cast<QType>(t.type), std::vector<int64_t>(t.ne, t.ne + t.n_dims), t.data);
    }
    const int64_t E = in->get_int("deepseek2.embedding_length");
    const int64_t Q = in->get_int("deepseek2.attention.q_lora_rank");
    const int64_t L = in->get_int("deepseek2.block_count");
    std::mt19937 rng(static_cast<uint32_t>(seed));
    std::vector<std::vector<float>> keep;  // the values outlive the writer's producers
    auto add = [&](const std::string& name, std::vector<int64_t> ne, float mean, float sd) {
      int64_t n = 1;
      for (int64_t d : ne) n *= d;
      std::normal_distribution<float> nd(mean, sd);
      keep.emplace_back(static_cast<size_t>(n));
      for (float& x : keep.back()) x = nd(rng);
      w.add_tensor_copy(name, QType::F32, std::move(ne), keep.back().data());
    };
    keep.reserve(static_cast<size_t>(5 * L));
    for (int64_t l = 0; l < L; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".indexer.";
      add(b + "attn_q_b.weight", {Q, H * D}, 0.0f, 2.0f / std::sqrt(static_cast<float>(Q)));
      add(b + "attn_k.weight", {E, D}, 0.0f, 2.0f / std::sqrt(static_cast<float>(E)));
      add(b + "k_norm.weight", {D}, 1.0f, 0.1f);
      add(b + "k_norm.bias", {D}, 0.0f, 0.1f);
      add(b + "proj.weight", {E, H}, 0.0f, 1.0f / std::sqrt(static_cast<float>(E)));
    }
    w.write(argv[2]);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moerun_graft_indexer: %s\n", e.what());
    return 2;
  }
}
