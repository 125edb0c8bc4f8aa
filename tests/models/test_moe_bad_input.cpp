// Bad MoE input, end to end through the CLI (DESIGN §9, issue 5): missing
// expert tensors, expert tensors whose shape disagrees with expert_count,
// top-k above the expert count -> one line naming the file and the problem,
// exit 2; non-finite router scores -> one line, exit 1; never a crash. Also
// `moerun synth`'s own usage errors and its no-partial-file promise.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/gguf/gguf.h"
#include "core/gguf/gguf_writer.h"
#include "models/synth.h"
#include "tests/cli/cli_runner.h"
#include "tests/models/synth_edit.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;
using namespace moerun;

namespace {

using test::count_lines;

std::string temp_dir() { return test::temp_dir("moerun-moe-bad-"); }

test::CliResult run(const std::string& args) { return test::run_moerun(args); }

// A tiny synth model of `arch` after `edit` changed its description.
std::string synth_file(const std::string& name, const std::string& arch,
                       const std::function<void(SynthModel&)>& edit) {
  return test::write_edited_synth(temp_dir() + "/" + name, arch, "", edit);
}

using test::set_key;

void drop_tensor(SynthModel& m, const std::string& name) {
  const size_t before = m.tensors.size();
  std::erase_if(m.tensors, [&](const SynthTensor& t) { return t.name == name; });
  REQUIRE(m.tensors.size() + 1 == before);
}

// `moerun logits` on `model`: the exit status, one line on stderr naming the
// file and `must_mention`, no output file.
void expect_error(const std::string& model, int status, const std::string& must_mention) {
  const std::string out = temp_dir() + "/out.f32";
  fs::remove(out);
  const test::CliResult r = run("logits -m " + model + " --tokens \"1 2 3 4 5 6 7 8\" -o " + out);
  CHECK_MESSAGE(r.status == status, r.err);
  CHECK_MESSAGE(count_lines(r.err) == 1, r.err);
  CHECK_MESSAGE(r.err.rfind("moerun: error: ", 0) == 0, r.err);
  CHECK_MESSAGE(r.err.find(must_mention) != std::string::npos, r.err);
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(out + ".tmp"));
}

}  // namespace

TEST_CASE("moe bad input: a missing expert tensor is named") {
  for (const char* arch : {"deepseek2", "qwen3moe", "qwen2moe", "llama"}) {
    CAPTURE(arch);
    const std::string path = synth_file(std::string(arch) + "-noexp.gguf", arch,
                                        [](SynthModel& m) { drop_tensor(m, "blk.2.ffn_down_exps.weight"); });
    expect_error(path, 2, "blk.2.ffn_down_exps.weight");
    expect_error(path, 2, path);
  }
  const std::string shexp = synth_file("qwen2moe-noshgate.gguf", "qwen2moe",
                                       [](SynthModel& m) { drop_tensor(m, "blk.0.ffn_gate_inp_shexp.weight"); });
  expect_error(shexp, 2, "blk.0.ffn_gate_inp_shexp.weight");
}

TEST_CASE("moe bad input: expert tensors whose shape disagrees with expert_count") {
  // The tiny presets have 16 (8 for Mixtral) experts; the key says 12.
  for (const char* arch : {"deepseek2", "qwen3moe", "qwen2moe", "llama"}) {
    CAPTURE(arch);
    const std::string path = synth_file(std::string(arch) + "-count.gguf", arch, [&](SynthModel& m) {
      set_key(m, std::string(arch) + ".expert_count", 12);
      set_key(m, std::string(arch) + ".expert_used_count", 2);
    });
    expect_error(path, 2, "shape");
    // Either the router or the first expert tensor is the first to disagree.
    const test::CliResult r = run("logits -m " + path + " --tokens \"1\" -o " + temp_dir() + "/x.f32");
    CHECK_MESSAGE((r.err.find("blk.0.ffn_gate_inp.weight") != std::string::npos ||
                   r.err.find("blk.1.ffn_gate_inp.weight") != std::string::npos),
                  r.err);
  }
}

TEST_CASE("moe bad input: top-k larger than the expert count") {
  for (const char* arch : {"deepseek2", "qwen3moe", "qwen2moe", "llama"}) {
    CAPTURE(arch);
    const std::string path = synth_file(std::string(arch) + "-topk.gguf", arch, [&](SynthModel& m) {
      set_key(m, std::string(arch) + ".expert_used_count", 40);
    });
    expect_error(path, 2, "exceeds expert_count");
  }
  const std::string zero = synth_file("qwen3moe-top0.gguf", "qwen3moe",
                                      [](SynthModel& m) { set_key(m, "qwen3moe.expert_used_count", 0); });
  expect_error(zero, 2, "expert_used_count");
}

TEST_CASE("moe bad input: non-finite router scores are a runtime error, not a crash") {
  for (const char* arch : {"deepseek2", "qwen3moe"}) {
    CAPTURE(arch);
    const std::string clean = synth_file(std::string(arch) + "-clean.gguf", arch, [](SynthModel&) {});
    // Copy the file, with one router gate full of NaN.
    auto in = GgufFile::open(clean);
    GgufWriter w;
    for (const auto& [key, v] : in->metadata()) w.set_value(key, v);
    std::vector<float> nan;
    for (const GgufTensor& t : in->tensors()) {
      const std::vector<int64_t> ne(t.ne, t.ne + t.n_dims);
      if (t.name == "blk.1.ffn_gate_inp.weight") {
        nan.assign(static_cast<size_t>(t.n_elements()), std::nanf(""));
        w.add_tensor_copy(t.name, QType::F32, ne, nan.data());
      } else {
        w.add_tensor_copy(t.name, static_cast<QType>(t.type), ne, t.data);
      }
    }
    const std::string path = temp_dir() + "/" + arch + "-nan.gguf";
    w.write(path);
    expect_error(path, 1, "non-finite");
  }
}

TEST_CASE("synth CLI: usage errors exit 2; a failed write exits 1 and leaves no file") {
  const std::string out = temp_dir() + "/synth.gguf";
  fs::remove(out);
  test::CliResult r = run("synth --arch nosuch --tiny -o " + out);
  CHECK(r.status == 2);
  CHECK_MESSAGE(r.err.find("deepseek2") != std::string::npos, r.err);
  r = run("synth --arch qwen3moe --preset nosuch -o " + out);
  CHECK(r.status == 2);
  CHECK_MESSAGE(r.err.find("qwen3-30b-a3b") != std::string::npos, r.err);
  r = run("synth --arch qwen3moe --preset tiny-qwen3moe --tiny -o " + out);
  CHECK(r.status == 2);
  r = run("synth --arch qwen3moe --tiny --type q9_9 -o " + out);
  CHECK(r.status == 2);
  CHECK_MESSAGE(r.err.find("q9_9") != std::string::npos, r.err);
  CHECK_FALSE(fs::exists(out));

  const std::string bad = temp_dir() + "/no-such-dir/synth.gguf";
  r = run("synth --arch qwen3moe --tiny -o " + bad);
  CHECK(r.status == 1);
  CHECK(count_lines(r.err) == 1);
  CHECK_FALSE(fs::exists(bad));

  r = run("synth --arch llama --tiny --type q8_0 --seed 3 -o " + out);
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK(fs::exists(out));
  CHECK_FALSE(fs::exists(out + ".tmp"));
  CHECK_MESSAGE(r.err.find("MB/s") != std::string::npos, r.err);
  CHECK(r.out.empty());  // progress and the report go to stderr

  // moerun info shows the experts of what synth wrote.
  r = run("info " + out);
  CHECK_MESSAGE(r.status == 0, r.err);
  CHECK_MESSAGE(r.out.find("experts: 8 routed (top-2), 0 shared\n") != std::string::npos, r.out);
  const std::string lite = temp_dir() + "/lite.gguf";
  r = run("synth --arch deepseek2 --preset tiny-v2-lite -o " + lite);
  REQUIRE_MESSAGE(r.status == 0, r.err);
  r = run("info " + lite);
  CHECK_MESSAGE(r.out.find("experts: 16 routed (top-6), 2 shared\n") != std::string::npos, r.out);
}
