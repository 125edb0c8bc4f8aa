// moerun_fuzz_seeds OUTDIR: writes the seed corpora of the fuzz targets from
// the shared test data, in the input formats fuzz_targets.h describes:
//   OUTDIR/gguf/      every shipped model and every tiny synth preset (1 layer,
//                     f32 and q4_0), as header + zero padding of the data's
//                     size; the vocabularies cut to their first 400 tokens
//   OUTDIR/tokenize/  every tokenizer test string (.inp files)
//   OUTDIR/chat/      every chat template with a short conversation, and
//                     every template of the Jinja feature tests
//   OUTDIR/batch/     batch request lines of each form, well made and not
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/gguf/gguf.h"
#include "core/gguf/gguf_writer.h"
#include "models/synth.h"
#include "tests/fuzz/fuzz_targets.h"

namespace fs = std::filesystem;
using namespace moerun;
using namespace std::string_literals;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int n_written = 0;
void put(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  ++n_written;
}

std::string u32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }

// A model as a gguf_input seed: its header and metadata, then a count of
// zero KiB standing for the tensor data (capped as the target caps it).
void gguf_seeds(const fs::path& model, const fs::path& out, const std::string& name) {
  const std::string bytes = slurp(model);
  auto f = GgufFile::open(model.string());
  const size_t head = std::min<size_t>(f->data_offset(), bytes.size());
  const uint64_t data_kib = (bytes.size() - head + 1023) / 1024;
  if (data_kib > 4096) return;  // the target pads at most 4 MiB
  const std::string header = bytes.substr(0, head);
  put(out / (name + ".load"), u32(static_cast<uint32_t>(data_kib)) + header);
  put(out / (name + ".forward"), u32(static_cast<uint32_t>(data_kib) | 0x80000000u) + header);
}

// A vocabulary GGUF cut to its first `keep` tokens, with the merges whose
// parts and result survive and the special ids that stay in range.
void vocab_seed(const fs::path& vocab, const fs::path& out, size_t keep) {
  auto f = GgufFile::open(vocab.string());
  const auto& tokens = f->get_string_array("tokenizer.ggml.tokens");
  keep = std::min(keep, tokens.size());
  std::set<std::string_view> kept(tokens.begin(), tokens.begin() + static_cast<long>(keep));
  GgufWriter w;
  for (const auto& [key, v] : f->metadata()) {
    if (key == "tokenizer.ggml.tokens") {
      w.set_string_array(key, std::vector<std::string>(tokens.begin(), tokens.begin() + static_cast<long>(keep)));
    } else if (key == "tokenizer.ggml.scores") {
      std::vector<float> s = f->get_float_array(key);
      s.resize(keep);
      w.set_f32_array(key, s);
    } else if (key == "tokenizer.ggml.token_type") {
      std::vector<int64_t> t = f->get_int_array(key);
      w.set_i32_array(key, std::vector<int32_t>(t.begin(), t.begin() + static_cast<long>(keep)));
    } else if (key == "tokenizer.ggml.merges") {
      std::vector<std::string> merges;
      for (std::string_view m : f->get_string_array(key)) {
        const size_t sp = m.find(' ');
        if (sp == std::string_view::npos) continue;
        const std::string joined = std::string(m.substr(0, sp)) + std::string(m.substr(sp + 1));
        if (kept.count(m.substr(0, sp)) && kept.count(m.substr(sp + 1)) && kept.count(joined)) merges.emplace_back(m);
      }
      w.set_string_array(key, merges);
    } else if (key.rfind("tokenizer.ggml.", 0) == 0 && key.size() > 9 && key.compare(key.size() - 9, 9, "_token_id") == 0) {
      if (f->get_uint(key) < keep) w.set_value(key, v);
    } else {
      w.set_value(key, v);
    }
  }
  const fs::path tmp = out / (vocab.stem().string() + ".tmp.gguf");
  w.write(tmp.string());
  put(out / (vocab.stem().string() + ".vocab"), u32(0) + slurp(tmp));
  fs::remove(tmp);
}

std::vector<std::string> split_inp(const std::string& text) {
  static const std::string kSep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t next; (next = text.find(kSep, at)) != std::string::npos; at = next + kSep.size()) {
    out.push_back(text.substr(at, next - at));
  }
  if (at < text.size()) out.push_back(text.substr(at));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: moerun_fuzz_seeds OUTDIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path data = fuzz::testdata_dir();
  for (const char* sub : {"gguf", "tokenize", "chat", "batch"}) fs::create_directories(out / sub);

  // GGUF: shipped models, synth presets, cut vocabularies.
  for (const auto& e : fs::directory_iterator(data / "models")) {
    if (e.path().extension() == ".gguf") gguf_seeds(e.path(), out / "gguf", e.path().stem().string());
  }
  for (const auto& e : fs::directory_iterator(fs::path(MOERUN_SOURCE_DIR) / "models/data")) {
    if (e.path().extension() == ".gguf") gguf_seeds(e.path(), out / "gguf", e.path().stem().string());
  }
  const fs::path tmp = out / "synth.tmp.gguf";
  for (const SynthPreset& p : synth_presets()) {
    if (!p.tiny) continue;
    for (QType type : {QType::F32, QType::Q4_0}) {
      write_synth(p.build(1), type, 1, tmp.string());
      gguf_seeds(tmp, out / "gguf", p.arch + "-" + p.name + "-" + format_traits(type).name);
    }
  }
  fs::remove(tmp);
  for (const auto& e : fs::directory_iterator(data / "vocab")) {
    if (e.path().extension() == ".gguf") vocab_seed(e.path(), out / "gguf", 400);
  }

  // Tokenizers: every test string, as plain text (flag byte 0).
  int n = 0;
  for (const fs::path& dir : {data / "vocab", data / "tokenizers/deepseek_v3"}) {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() != ".inp") continue;
      for (const std::string& s : split_inp(slurp(e.path()))) put(out / "tokenize" / ("t" + std::to_string(n++)), std::string(1, '\0') + s);
    }
  }
  put(out / "tokenize" / "special", std::string(1, '\3') + "<s>[INST] hi [/INST]</s><|im_end|>");

  // Chat templates: each real template with a conversation, then the
  // feature tests' templates (small, one construct each).
  const std::string conversation = "\0system\0You are terse.\0user\0Hello\0assistant\0Hi!\0user\0Why?"s;
  for (const auto& e : fs::directory_iterator(data / "templates")) {
    put(out / "chat" / e.path().stem(), std::string(1, '\3') + slurp(e.path()) + conversation);
  }
  const nlohmann::json features =
      nlohmann::json::parse(slurp(fs::path(MOERUN_SOURCE_DIR) / "tests/golden/chat_templates/jinja_features.json"));
  n = 0;
  for (const auto& c : features["cases"]) {
    put(out / "chat" / ("f" + std::to_string(n++)), std::string(1, '\1') + c["template"].get<std::string>() + conversation);
  }
  // Batch requests: each form a request line takes, and the malformed kinds.
  const char* requests[] = {
      R"({"id": 1, "prompt": "Once upon a time"})",
      R"({"id": "a", "prompt": "Hi", "max_tokens": 8, "temperature": 0.7, "seed": 42})",
      R"({"id": 2.5, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why?"}]})",
      R"({"id": 3, "messages": [{"role": "user", "content": "\u00e9\ud83d\ude00"}], "max_tokens": 0})",
      R"({"id": null, "prompt": 5, "messages": {}})",
      R"([1, 2, {"id": 1}])",
      R"({"id": 4, "prompt": "x", "seed": -1, "temperature": -2, "max_tokens": 1e99})",
      "{\"id\": 5, \"prompt\": \"cut",
  };
  n = 0;
  for (const char* r : requests) put(out / "batch" / ("r" + std::to_string(n++)), std::string(r) + "\n");
  std::string all;
  for (const char* r : requests) all += std::string(r) + "\n\n";
  put(out / "batch" / "file", all);
  std::printf("moerun_fuzz_seeds: %d seeds in %s\n", n_written, out.c_str());
  return 0;
}
