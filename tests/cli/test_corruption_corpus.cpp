// The corruption corpus: damaged copies of real model files, made here from a
// fixed seed, each run through `moerun run`. Every one of them must end in a
// clean error: exit status 2, exactly one line on stderr, no sanitizer report
// (run in the sanitizer build too). Each mutation is of a kind the reader or
// loader must reject, so a file that loads is a failure too:
//   truncations anywhere before the end of the tensor data; bit flips in the
//   magic, the version and the high bits of counts, lengths, dimensions,
//   offsets and type ids; counts and lengths near 2^64; misaligned offsets;
//   hyperparameters of 0 or near 2^32; token arrays of different lengths; a
//   NaN in a norm weight.
// A second case flips random bits anywhere: such a file may still load, so it
// must end in exit 0, or in a one-line error with exit 1 or 2, never a crash.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/gguf/gguf.h"
#include "tests/cli/cli_runner.h"

namespace fs = std::filesystem;
using namespace moerun;

namespace {

const std::string kStories = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/stories260K.gguf";
const std::string kTinyMoe = std::string(MOERUN_SOURCE_DIR) + "/models/data/tiny-deepseek-moe-q8_0.gguf";

// Where each field of a GGUF file sits, found by walking it the way the format
// spec lays it out (the file is a valid one: the reader vouched for it).
struct Layout {
  struct Kv {
    std::string key;
    size_t key_len_at = 0, type_at = 0, value_at = 0;
    uint32_t type = 0;
    size_t str_len_at = 0;      // kString: the length field
    size_t array_count_at = 0;  // kArray: the count field
  };
  struct Tensor {
    std::string name;
    size_t name_len_at = 0, n_dims_at = 0, dims_at = 0, type_at = 0, offset_at = 0;
    uint32_t n_dims = 0, type = 0;
    uint64_t offset = 0, nbytes = 0;
  };
  std::vector<Kv> kvs;
  std::vector<Tensor> tensors;
  uint64_t data_offset = 0, data_end = 0;
};

template <typename T>
T get(const std::string& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

template <typename T>
void set(std::string& b, size_t at, T v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}

size_t skip_value(const std::string& b, size_t at, uint32_t type) {
  static const size_t kScalar[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  if (type == 8) return at + 8 + get<uint64_t>(b, at);
  if (type == 9) {
    const uint32_t et = get<uint32_t>(b, at);
    const uint64_t n = get<uint64_t>(b, at + 4);
    at += 12;
    for (uint64_t i = 0; i < n; ++i) at = skip_value(b, at, et);
    return at;
  }
  return at + kScalar[type];
}

Layout layout_of(const std::string& path, const std::string& b) {
  Layout l;
  auto f = GgufFile::open(path);
  size_t at = 24;
  for (uint64_t k = 0; k < get<uint64_t>(b, 16); ++k) {
    Layout::Kv kv;
    kv.key_len_at = at;
    kv.key = b.substr(at + 8, get<uint64_t>(b, at));
    at += 8 + kv.key.size();
    kv.type_at = at;
    kv.type = get<uint32_t>(b, at);
    kv.value_at = at += 4;
    if (kv.type == 8) kv.str_len_at = at;
    if (kv.type == 9) kv.array_count_at = at + 4;
    at = skip_value(b, at, kv.type);
    l.kvs.push_back(kv);
  }
  for (uint64_t k = 0; k < get<uint64_t>(b, 8); ++k) {
    Layout::Tensor t;
    t.name_len_at = at;
    t.name = b.substr(at + 8, get<uint64_t>(b, at));
    at += 8 + t.name.size();
    t.n_dims_at = at;
    t.n_dims = get<uint32_t>(b, at);
    t.dims_at = at + 4;
    at += 4 + 8 * t.n_dims;
    t.type_at = at;
    t.type = get<uint32_t>(b, at);
    t.offset_at = at + 4;
    t.offset = get<uint64_t>(b, at + 4);
    at += 12;
    t.nbytes = f->find_tensor(t.name)->nbytes;
    l.tensors.push_back(t);
  }
  l.data_offset = f->data_offset();
  for (const auto& t : l.tensors) l.data_end = std::max(l.data_end, l.data_offset + t.offset + t.nbytes);
  return l;
}

struct Mutant {
  std::string what;
  std::string bytes;
};

// The mutations of one base file that every reader of it must reject.
std::vector<Mutant> must_fail_mutants(const std::string& path, const std::string& arch, uint32_t seed) {
  const std::string base = test::slurp(path);
  const Layout l = layout_of(path, base);
  REQUIRE(l.data_end == base.size());  // so that every cut below loses tensor data
  std::mt19937_64 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto bit_in = [&](int lo, int hi) { return lo + static_cast<int>(rng() % static_cast<uint64_t>(hi - lo + 1)); };
  std::vector<Mutant> out;
  auto add = [&](std::string what, const std::function<void(std::string&)>& edit) {
    std::string b = base;
    edit(b);
    out.push_back({arch + ": " + what, std::move(b)});
  };

  // Truncations: a third inside the header, the rest through the tensor data.
  for (int i = 0; i < 40; ++i) {
    const size_t cut = i < 14 ? pick(l.data_offset) : l.data_offset + pick(base.size() - l.data_offset);
    out.push_back({arch + ": cut at " + std::to_string(cut), base.substr(0, cut)});
  }
  for (int i = 0; i < 4; ++i) {
    const size_t at = pick(4);
    const int bit = bit_in(0, 7);
    add("magic byte " + std::to_string(at) + " bit " + std::to_string(bit), [&](std::string& b) { b[at] ^= static_cast<char>(1 << bit); });
  }
  for (int i = 0; i < 3; ++i) {
    const int bit = bit_in(1, 31);  // bit 0 turns 3 into 2, a version moerun reads
    add("version bit " + std::to_string(bit), [&](std::string& b) { set<uint32_t>(b, 4, get<uint32_t>(b, 4) ^ (1u << bit)); });
  }
  for (size_t field : {size_t{8}, size_t{16}}) {
    for (int i = 0; i < 3; ++i) {
      const int bit = bit_in(40, 63);
      add((field == 8 ? "tensor count bit " : "metadata count bit ") + std::to_string(bit),
          [&](std::string& b) { set<uint64_t>(b, field, get<uint64_t>(b, field) ^ (1ull << bit)); });
    }
  }
  // Lengths of keys, string values and tensor names.
  std::vector<std::pair<std::string, size_t>> lengths;
  for (const auto& kv : l.kvs) {
    lengths.push_back({"length of key '" + kv.key + "'", kv.key_len_at});
    if (kv.str_len_at) lengths.push_back({"length of the value of '" + kv.key + "'", kv.str_len_at});
  }
  for (const auto& t : l.tensors) lengths.push_back({"length of tensor name '" + t.name + "'", t.name_len_at});
  for (int i = 0; i < 10; ++i) {
    const auto& [name, at] = lengths[pick(lengths.size())];
    const int bit = bit_in(40, 63);
    add(name + " bit " + std::to_string(bit), [&, at = at](std::string& b) { set<uint64_t>(b, at, get<uint64_t>(b, at) ^ (1ull << bit)); });
  }
  for (const auto& kv : l.kvs) {
    if (kv.key != "tokenizer.ggml.tokens") continue;
    for (uint64_t n : {~0ull, 1ull << 63, (1ull << 62) + 1, 1ull << 32}) {
      add("token count " + std::to_string(n), [&](std::string& b) { set<uint64_t>(b, kv.array_count_at, n); });
    }
  }
  for (int i = 0; i < 8; ++i) {
    const auto& t = l.tensors[pick(l.tensors.size())];
    const size_t d = pick(t.n_dims);
    const int bit = bit_in(40, 62);
    add("tensor '" + t.name + "' dim " + std::to_string(d) + " bit " + std::to_string(bit), [&](std::string& b) {
      const size_t at = t.dims_at + 8 * d;
      set<uint64_t>(b, at, get<uint64_t>(b, at) ^ (1ull << bit));
    });
  }
  for (int i = 0; i < 6; ++i) {
    const auto& t = l.tensors[pick(l.tensors.size())];
    const int bit = bit_in(8, 31);
    add("tensor '" + t.name + "' type bit " + std::to_string(bit),
        [&](std::string& b) { set<uint32_t>(b, t.type_at, t.type ^ (1u << bit)); });
  }
  for (int i = 0; i < 6; ++i) {
    const auto& t = l.tensors[pick(l.tensors.size())];
    const int bit = bit_in(40, 63);
    add("tensor '" + t.name + "' offset bit " + std::to_string(bit),
        [&](std::string& b) { set<uint64_t>(b, t.offset_at, t.offset ^ (1ull << bit)); });
  }
  for (int i = 0; i < 4; ++i) {
    const auto& t = l.tensors[pick(l.tensors.size())];
    const uint64_t by = 1 + pick(31);
    add("tensor '" + t.name + "' offset + " + std::to_string(by),
        [&](std::string& b) { set<uint64_t>(b, t.offset_at, t.offset + by); });
  }
  for (int i = 0; i < 6; ++i) {
    const auto& kv = l.kvs[pick(l.kvs.size())];
    const int bit = bit_in(8, 31);
    add("type of key '" + kv.key + "' bit " + std::to_string(bit),
        [&](std::string& b) { set<uint32_t>(b, kv.type_at, kv.type ^ (1u << bit)); });
  }
  // Hyperparameters that shape tensors, set to 0 or near 2^32.
  // (DeepSeek files with split MLA heads take the head sizes from the *_mla
  // keys; their key_length/value_length describe llama.cpp's cache rows and
  // are not read, so they are not in this list.)
  const bool split_mla = std::any_of(l.kvs.begin(), l.kvs.end(), [&](const Layout::Kv& kv) {
    return kv.key == arch + ".attention.key_length_mla";
  });
  static const char* kShapeKeys[] = {
      "embedding_length", "block_count", "attention.head_count", "attention.head_count_kv", "feed_forward_length",
      "attention.key_length", "attention.value_length", "attention.key_length_mla", "attention.value_length_mla",
      "attention.q_lora_rank", "attention.kv_lora_rank", "expert_feed_forward_length", "expert_count",
      "expert_shared_count", "rope.dimension_count"};
  for (const char* leaf : kShapeKeys) {
    const std::string l_leaf = leaf;
    if (split_mla && (l_leaf == "attention.key_length" || l_leaf == "attention.value_length")) continue;
    for (const auto& kv : l.kvs) {
      if (kv.key != arch + "." + leaf || kv.type != 4) continue;
      for (uint32_t v : {0u, 0xffffffffu, 0x7fffffffu}) {
        if (v == 0 && std::string(leaf) == "expert_shared_count") continue;  // 0 shared experts is a valid model
        add(kv.key + " = " + std::to_string(v), [&](std::string& b) { set<uint32_t>(b, kv.value_at, v); });
      }
    }
  }
  // (Special token ids beyond the vocabulary are not in the list: like
  // llama.cpp, moerun reads them as "no such token", 0xFFFFFFFF included.)
  // Token scores and types that disagree in length with the tokens.
  for (const auto& kv : l.kvs) {
    if (kv.key != "tokenizer.ggml.scores" && kv.key != "tokenizer.ggml.token_type") continue;
    add(kv.key + " one element short", [&](std::string& b) {
      set<uint64_t>(b, kv.array_count_at, get<uint64_t>(b, kv.array_count_at) - 1);
    });
  }
  for (const auto& t : l.tensors) {
    if (t.name != "blk.0.attn_norm.weight" && t.name != "output_norm.weight") continue;
    add("NaN in '" + t.name + "'", [&](std::string& b) { set<uint32_t>(b, l.data_offset + t.offset + 4, 0x7fc00000u); });
  }
  return out;
}

// Runs `moerun run` on the bytes; returns the result.
test::CliResult run_on(const std::string& bytes) {
  const std::string path = test::cli_temp_dir() + "/mutant.gguf";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  test::CliResult r = test::run_moerun("run -m " + path + " -p \"Once upon\" -n 2 --no-echo -t 1");
  fs::remove(path);
  return r;
}

bool sanitizer_report(const std::string& err) {
  return err.find("Sanitizer") != std::string::npos || err.find("runtime error:") != std::string::npos;
}

}  // namespace

TEST_CASE("corruption corpus: every damaged file ends in one clean line and exit status 2") {
  std::vector<Mutant> corpus = must_fail_mutants(kStories, "llama", 20251204);
  const std::vector<Mutant> moe = must_fail_mutants(kTinyMoe, "deepseek2", 20251205);
  corpus.insert(corpus.end(), moe.begin(), moe.end());
  CHECK(corpus.size() >= 200);
  MESSAGE(corpus.size() << " damaged files");
  for (const Mutant& m : corpus) {
    const test::CliResult r = run_on(m.bytes);
    INFO(m.what);
    INFO(r.err);
    CHECK(r.status == 2);
    CHECK(test::count_lines(r.err) == 1);
    CHECK(r.err.rfind("moerun: error: ", 0) == 0);
    CHECK_FALSE(sanitizer_report(r.err));
  }
}

TEST_CASE("corruption corpus: random bit flips anywhere never crash") {
  for (const auto& base_file : {std::pair{kStories, 7u}, std::pair{kTinyMoe, 8u}}) {
    const std::string& path = base_file.first;  // (clang 14 lambdas cannot capture structured bindings)
    const std::string base = test::slurp(path);
    std::mt19937_64 rng(base_file.second);
    for (int i = 0; i < 20; ++i) {
      std::string b = base;
      // Half the files take their flips in the first 16 KiB (header and
      // metadata), half anywhere (mostly weights).
      const size_t span = i % 2 == 0 ? std::min<size_t>(b.size(), 16384) : b.size();
      for (int k = 0; k < 1 + i % 4; ++k) b[rng() % span] ^= static_cast<char>(1u << (rng() % 8));
      const test::CliResult r = run_on(b);
      INFO(path << " flips #" << i);
      INFO(r.err);
      CHECK((r.status == 0 || r.status == 1 || r.status == 2));
      if (r.status != 0) {
        CHECK(test::count_lines(r.err) == 1);
        CHECK(r.err.rfind("moerun: error: ", 0) == 0);
      }
      CHECK_FALSE(sanitizer_report(r.err));
    }
  }
}
