// End-to-end: every kind of bad input the CLI can meet ends in one line on
// stderr that names the file and the problem, exit status 2, and no output
// file (DESIGN §9).
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/gguf/gguf.h"
#include "core/gguf/gguf_writer.h"
#include "tests/cli/cli_runner.h"

namespace fs = std::filesystem;
using namespace moerun;

namespace {

const std::string kStories = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/stories260K.gguf";

using Result = test::CliResult;
using test::count_lines;
using test::slurp;

std::string temp_dir() { return test::cli_temp_dir(); }
Result run(const std::string& args) { return test::run_moerun(args); }

// Runs `moerun logits` on `model` and checks the clean-failure contract.
void expect_bad_model(const std::string& model, const std::string& must_mention) {
  const std::string out = temp_dir() + "/out.f32";
  fs::remove(out);
  const Result r = run("logits -m " + model + " --tokens \"1 2 3\" -o " + out);
  CHECK_MESSAGE(r.status == 2, r.err);
  CHECK_MESSAGE(count_lines(r.err) == 1, r.err);
  CHECK_MESSAGE(r.err.rfind("moerun: error: ", 0) == 0, r.err);
  CHECK_MESSAGE(r.err.find(model) != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find(must_mention) != std::string::npos, r.err);
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(out + ".tmp"));
}

// Copies stories260K through the writer, letting `edit` change keys and
// `keep` drop tensors.
std::string rewrite_stories(const std::string& name, const std::function<void(GgufWriter&)>& edit,
                            const std::function<bool(const std::string&)>& keep = nullptr) {
  auto in = GgufFile::open(kStories);
  GgufWriter w;
  for (const auto& [key, v] : in->metadata()) w.set_value(key, v);
  edit(w);
  for (const GgufTensor& t : in->tensors()) {
    if (keep && !keep(t.name)) continue;
    w.add_tensor_copy(t.name, static_cast<QType>(t.type), std::vector<int64_t>(t.ne, t.ne + t.n_dims), t.data);
  }
  const std::string path = temp_dir() + "/" + name;
  w.write(path);
  return path;
}

std::string write_bytes(const std::string& name, const std::string& bytes) {
  const std::string path = temp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

}  // namespace

TEST_CASE("cli: missing file, not a GGUF, unsupported version, truncations") {
  expect_bad_model(temp_dir() + "/no-such-model.gguf", "cannot open");
  expect_bad_model(write_bytes("text.gguf", "hello, this is not a model file at all"), "not a GGUF");

  const std::string real = slurp(kStories);
  std::string v9 = real;
  v9[4] = 9;
  expect_bad_model(write_bytes("v9.gguf", v9), "unsupported GGUF version");
  expect_bad_model(write_bytes("cut-header.gguf", real.substr(0, 20)), "truncated");
  expect_bad_model(write_bytes("cut-metadata.gguf", real.substr(0, 3000)), "truncated");
  expect_bad_model(write_bytes("cut-data.gguf", real.substr(0, real.size() - 1000)), "outside the file");
}

TEST_CASE("cli: missing key, missing tensor, unknown architecture, wrong shape") {
  expect_bad_model(rewrite_stories("no-key.gguf", [](GgufWriter& w) { w.remove("llama.embedding_length"); }),
                   "llama.embedding_length");
  expect_bad_model(rewrite_stories("no-tensor.gguf", [](GgufWriter&) {},
                                   [](const std::string& n) { return n != "blk.2.ffn_up.weight"; }),
                   "blk.2.ffn_up.weight");
  expect_bad_model(rewrite_stories("arch.gguf", [](GgufWriter& w) { w.set_string("general.architecture", "nosuch"); }),
                   "unknown architecture 'nosuch'");
  expect_bad_model(rewrite_stories("shape.gguf", [](GgufWriter& w) { w.set_u32("llama.feed_forward_length", 100); }),
                   "shape");
}

TEST_CASE("cli: prompt longer than the context, token ids out of range, bad usage") {
  Result r = run("run -m " + kStories + " -c 8 -p \"Once upon a time there was a little girl named Lily\" -n 4");
  CHECK_MESSAGE(r.status == 2, r.err);
  CHECK_MESSAGE(r.err.find("more than the context of 8") != std::string::npos, r.err);
  CHECK(count_lines(r.err) == 1);
  CHECK(r.out.empty());

  const std::string out = temp_dir() + "/range.f32";
  r = run("logits -m " + kStories + " --tokens \"1 99999\" -o " + out);
  CHECK_MESSAGE(r.status == 2, r.err);
  CHECK_MESSAGE(r.err.find("out of range") != std::string::npos, r.err);
  CHECK_FALSE(fs::exists(out));

  r = run("logits -m " + kStories + " --tokens \"1 two 3\" -o " + out);
  CHECK_MESSAGE(r.status == 2, r.err);
  CHECK_FALSE(fs::exists(out));

  r = run("run --no-such-flag");
  CHECK(r.status == 2);
  r = run("frobnicate");
  CHECK(r.status == 2);
}

TEST_CASE("cli: --help works for every subcommand") {
  for (const char* sub : {"run", "logits", "tokenize", "info", "quantize"}) {
    const Result r = run(std::string(sub) + " --help");
    CHECK_MESSAGE(r.status == 0, sub);
    CHECK_MESSAGE(r.out.find("Usage") != std::string::npos, sub);
  }
}

TEST_CASE("cli: hostile tensor infos in a real model are clean errors") {
  const std::string real = slurp(kStories);
  // The info of "output.weight": name, n_dims u32, ne0/ne1 u64, type u32, offset u64.
  const size_t at = real.find("output.weight") + std::string("output.weight").size();
  REQUIRE(at != std::string::npos);
  auto patched = [&](size_t off, const void* v, size_t n) {
    std::string b = real;
    std::memcpy(&b[at + off], v, n);
    return b;
  };
  const uint64_t far = 1ull << 40, huge = 1ull << 62;
  const uint32_t bad_type = 77;
  expect_bad_model(write_bytes("offset.gguf", patched(4 + 16 + 4, &far, 8)), "outside the file");
  std::string overflow = patched(4, &huge, 8);
  std::memcpy(&overflow[at + 12], &huge, 8);
  expect_bad_model(write_bytes("overflow.gguf", overflow), "overflows");
  expect_bad_model(write_bytes("type.gguf", patched(4 + 16, &bad_type, 4)), "unknown tensor type id 77");
  // Two names of equal length: rename blk.0.attn_k.weight to blk.0.ffn_up.weight.
  std::string dup = real;
  const size_t up = dup.find("blk.0.ffn_up.weight"), down = dup.find("blk.0.attn_k.weight");
  REQUIRE(up != std::string::npos);
  REQUIRE(down != std::string::npos);
  std::memcpy(&dup[down], "blk.0.ffn_up.weight", 19);
  expect_bad_model(write_bytes("dup.gguf", dup), "duplicate tensor name");
}

TEST_CASE("cli: quantize of a bad file writes nothing; load modes give the same text") {
  const std::string out = temp_dir() + "/q.gguf";
  fs::remove(out);
  const Result q = run("quantize " + write_bytes("cut.gguf", slurp(kStories).substr(0, 5000)) + " " + out + " q8_0");
  CHECK(q.status == 2);
  CHECK(count_lines(q.err) == 1);
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(out + ".tmp"));
  const Result bad_type = run("quantize " + kStories + " " + out + " q3_xx");
  CHECK(bad_type.status == 2);
  CHECK_FALSE(fs::exists(out));

  const std::string args = "run -m " + kStories + " -p \"Once upon a time\" -n 16 --temp 0 -t 1";
  const Result a = run(args), b = run(args + " --no-mmap"), c = run(args + " --mlock");
  CHECK(a.status == 0);
  CHECK(a.out == b.out);
  CHECK(a.out == c.out);
}
