// moerun batch end to end: 100 request lines (8 malformed, some with chat
// messages) answered with --parallel 1 and 8 give the same greedy answers;
// a run killed midway (SIGKILL) or stopped by Ctrl-C (SIGINT) and run again
// ends with every id answered exactly once and the same answers; duplicate
// ids are refused; a torn last line is repaired.
//
// Greedy answers are compared on the F32 tiny DeepSeek-style MoE and on the
// Q8_0 default model: float and Q8_0 rows get the same arithmetic whatever
// else is in the batch, on every ISA (tests/models/test_multi_sequence.cpp;
// tests/simd/test_kernels.cpp checks every format's few-column GEMM
// against its GEMV), so the answers must match bit for bit.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_runner.h"

using nlohmann::json;
using namespace moerun;

namespace {

const std::string kTinyMoe = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/models/tiny-deepseek-moe.gguf";

struct Requests {
  std::string path;
  std::set<std::string> ids;        // id keys (JSON text) of the well-formed lines
  std::vector<int> malformed;       // their line numbers
};

// 100 lines: 92 requests (every 9th with chat messages, ids strings or
// numbers, max_tokens 4..27) and 8 malformed lines of different kinds.
Requests write_requests(const std::string& dir) {
  static const char* kBad[] = {
      R"({"id": 1000, "prompt": })",            R"([1, 2])",
      R"({"prompt": "no id"})",                 R"({"id": 1001, "prompt": "x", "max_tokens": -3})",
      R"({"id": null, "prompt": "x"})",         R"({"id": 1002, "prompt": "a", "messages": []})",
      R"({"id": 1003})",                        "not json at all",
  };
  static const char* kWords[] = {"the", "king", "my", "lord", "shall", "thou", "art", "love",
                                 "night", "day", "sweet", "fair", "good", "come", "go", "death"};
  Requests r;
  r.path = dir + "/requests.jsonl";
  std::ofstream f(r.path);
  int bad = 0;
  for (int i = 0; i < 100; ++i) {
    if (i % 13 == 6 && bad < 8) {
      f << kBad[bad++] << "\n";
      r.malformed.push_back(i + 1);
      continue;
    }
    std::string text;
    for (int w = 0; w <= (i * 7) % 9; ++w) text += std::string(w ? " " : "") + kWords[(i * 5 + w * 3) % 16];
    json j;
    if (i % 9 == 4) {
      j["id"] = "chat-" + std::to_string(i);
      j["messages"] = json::array({{{"role", "user"}, {"content", text}}});
    } else {
      j["id"] = i;
      j["prompt"] = text + ":\n";
    }
    j["max_tokens"] = 4 + (i * 5) % 24;
    f << j.dump() << "\n";
    r.ids.insert(j["id"].dump());
  }
  REQUIRE(bad == 8);
  return r;
}

struct Answers {
  std::map<std::string, json> by_id;
  int lines = 0;
  int duplicates = 0;
};

Answers read_answers(const std::string& path) {
  Answers a;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    ++a.lines;
    const json j = json::parse(line);  // every line must be whole JSON
    if (!a.by_id.emplace(j.at("id").dump(), j).second) ++a.duplicates;
  }
  return a;
}

std::string batch_args(const Requests& r, const std::string& out, const std::string& model, int parallel) {
  return "batch -m " + model + " -i " + r.path + " -o " + out + " --parallel " + std::to_string(parallel) +
         " --temp 0 -t 1";
}

void check_complete(const Requests& r, const Answers& a) {
  CHECK(a.duplicates == 0);
  CHECK(a.lines == static_cast<int>(r.ids.size()));
  for (const std::string& id : r.ids) CHECK_MESSAGE(a.by_id.count(id) == 1, "missing id " << id);
}

int count_file_lines(const std::string& path) { return test::count_lines(test::slurp(path)); }

// Starts a batch run and returns once OUT holds at least `min_lines` answers.
pid_t start_and_wait(const std::string& args, const std::string& out, const std::string& name, int min_lines) {
  const pid_t pid = test::spawn_moerun(args, name);
  // A guard, not a timing assertion: generous for a loaded machine.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (count_file_lines(out) < min_lines && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pid;
}

// The --parallel 8 answers of the F32 model to write_requests(), made once
// and shared by the tests that compare with them.
const Answers& reference_answers() {
  static const Answers a = [] {
    const std::string dir = test::cli_temp_dir();
    const Requests req = write_requests(dir);
    const std::string out = dir + "/reference.jsonl";
    std::filesystem::remove(out);
    const test::CliResult r = test::run_moerun(batch_args(req, out, kTinyMoe, 8));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    return read_answers(out);
  }();
  return a;
}

}  // namespace

TEST_CASE("cli batch: 100 lines, malformed ones reported and skipped; --parallel 1 and 8 answer alike") {
  const std::string dir = test::cli_temp_dir();
  const Requests req = write_requests(dir);
  std::map<int, Answers> got;
  got[8] = reference_answers();
  {
    const int parallel = 1;
    const std::string out = dir + "/answers-" + std::to_string(parallel) + ".jsonl";
    std::filesystem::remove(out);
    const test::CliResult r = test::run_moerun(batch_args(req, out, kTinyMoe, parallel));
    REQUIRE_MESSAGE(r.status == 0, r.err);
    for (int line : req.malformed) {
      CHECK_MESSAGE(r.err.find("requests.jsonl:" + std::to_string(line) + ": ") != std::string::npos, r.err);
    }
    CHECK_MESSAGE(r.err.find("92 answered, 0 skipped") != std::string::npos, r.err);
    CHECK(r.err.find("8 malformed line(s)") != std::string::npos);
    got[parallel] = read_answers(out);
    check_complete(req, got[parallel]);
  }
  // Entries, not structured bindings: doctest's message lambdas cannot
  // capture a binding under clang 14 (the sanitizer build).
  for (const auto& entry : got[1].by_id) {
    const auto& id = entry.first;
    const json& a = entry.second;
    const json& b = got[8].by_id[id];
    CHECK_MESSAGE(a["text"] == b["text"], "id " << id);
    CHECK(a["tokens_in"] == b["tokens_in"]);
    CHECK(a["tokens_out"] == b["tokens_out"]);
    CHECK(a["finish_reason"] == b["finish_reason"]);
    const std::string reason = a["finish_reason"];
    CHECK((reason == "stop" || reason == "length"));
    CHECK(a["tokens_in"].get<int>() > 0);
    CHECK(a["ms"].get<int>() >= 0);
  }
  // The same prompt through `run` gives the same greedy text.
  const json& first = got[1].by_id["0"];
  const test::CliResult run = test::run_moerun("run -m " + kTinyMoe + " -p \"the:\n\" -n " +
                                               std::to_string(first["tokens_out"].get<int>()) + " --temp 0 -t 1 --no-echo");
  REQUIRE(run.status == 0);
  CHECK(run.out == first["text"].get<std::string>() + "\n");
}

TEST_CASE("cli batch: on the Q8_0 default model the greedy answers agree for --parallel 1 and 8") {
  const std::string dir = test::cli_temp_dir();
  const Requests req = write_requests(dir);
  std::map<int, Answers> got;
  for (int parallel : {1, 8}) {
    const std::string out = dir + "/q-answers-" + std::to_string(parallel) + ".jsonl";
    std::filesystem::remove(out);
    const test::CliResult r = test::run_moerun("batch -i " + req.path + " -o " + out + " --parallel " +
                                               std::to_string(parallel) + " --temp 0 -t 1");
    REQUIRE_MESSAGE(r.status == 0, r.err);
    got[parallel] = read_answers(out);
    check_complete(req, got[parallel]);
  }
  int same = 0;
  for (const auto& [id, a] : got[1].by_id) same += a["text"] == got[8].by_id[id]["text"];
  MESSAGE(same << " of " << got[1].by_id.size() << " greedy answers identical for --parallel 1 and 8");
  CHECK(same == static_cast<int>(got[1].by_id.size()));
}

TEST_CASE("cli batch: killed midway (SIGKILL) and rerun, every id is answered once, with the same answers") {
  const std::string dir = test::cli_temp_dir();
  const Requests req = write_requests(dir);
  const std::string out = dir + "/killed.jsonl";
  std::filesystem::remove(out);

  const pid_t pid = start_and_wait(batch_args(req, out, kTinyMoe, 8), out, "killed", 10);
  ::kill(pid, SIGKILL);
  CHECK(test::wait_moerun(pid) == 128 + SIGKILL);
  const int before = count_file_lines(out);
  REQUIRE_MESSAGE(before < static_cast<int>(req.ids.size()), "the run finished before it was killed");
  CHECK(before >= 10);

  const test::CliResult r = test::run_moerun(batch_args(req, out, kTinyMoe, 8));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK_MESSAGE(r.err.find(std::to_string(before) + " already in") != std::string::npos, r.err);
  const Answers resumed = read_answers(out);
  const Answers& reference = reference_answers();
  check_complete(req, resumed);
  for (const auto& entry : reference.by_id) {
    const auto& id = entry.first;
    CHECK_MESSAGE(resumed.by_id.at(id)["text"] == entry.second["text"], "id " << id);
  }
}

TEST_CASE("cli batch: Ctrl-C (SIGINT) stops after whole answers, exits 1 and says how to resume") {
  const std::string dir = test::cli_temp_dir();
  const Requests req = write_requests(dir);
  const std::string out = dir + "/interrupted.jsonl";
  std::filesystem::remove(out);
  const std::string model = std::string(MOERUN_SOURCE_DIR) + "/models/data/tiny-deepseek-moe-q8_0.gguf";
  const pid_t pid = start_and_wait(batch_args(req, out, model, 4), out, "interrupted", 5);
  ::kill(pid, SIGINT);
  const int status = test::wait_moerun(pid);
  const std::string err = test::slurp(dir + "/interrupted.err");
  const int before = count_file_lines(out);
  REQUIRE_MESSAGE(before < static_cast<int>(req.ids.size()), "the run finished before Ctrl-C");
  CHECK_MESSAGE(status == 1, err);
  CHECK_MESSAGE(err.find("interrupted with") != std::string::npos, err);
  CHECK(err.find("run the same command again to resume") != std::string::npos);
  CHECK(read_answers(out).lines == before);  // every line whole
  const test::CliResult r = test::run_moerun(batch_args(req, out, model, 4));
  REQUIRE_MESSAGE(r.status == 0, r.err);
  check_complete(req, read_answers(out));
}

TEST_CASE("cli batch: duplicate ids are an error that lists them; nothing is run") {
  const std::string dir = test::cli_temp_dir();
  const std::string in = dir + "/dups.jsonl", out = dir + "/dups-out.jsonl";
  std::filesystem::remove(out);
  std::ofstream(in) << R"({"id": "a", "prompt": "x"})" "\n" R"({"id": 7, "prompt": "y"})" "\n"
                    << R"({"id": "a", "prompt": "z"})" "\n" R"({"id": "7", "prompt": "not a duplicate of 7"})" "\n"
                    << R"({"id": 7, "prompt": "w"})" "\n";
  const test::CliResult r = test::run_moerun("batch -m " + kTinyMoe + " -i " + in + " -o " + out);
  CHECK(r.status == 2);
  CHECK_MESSAGE(r.err.find("duplicate ids: \"a\" (lines 1, 3), 7 (lines 2, 5)") != std::string::npos, r.err);
  CHECK(!std::filesystem::exists(out));
}

TEST_CASE("cli batch: a last line cut short by a crash is removed and that request answered again") {
  const std::string dir = test::cli_temp_dir();
  const std::string in = dir + "/torn.jsonl", out = dir + "/torn-out.jsonl";
  std::ofstream(in) << R"({"id": 1, "prompt": "ROMEO:", "max_tokens": 3})" "\n"
                    << R"({"id": 2, "prompt": "JULIET:", "max_tokens": 3})" "\n";
  std::ofstream(out) << R"({"id":1,"text":"x","tokens_in":3,"tokens_out":1,"finish_reason":"length","ms":1})" "\n"
                     << R"({"id":2,"text":"half a li)";
  const test::CliResult r = test::run_moerun("batch -m " + kTinyMoe + " -i " + in + " -o " + out + " --temp 0");
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK_MESSAGE(r.err.find("removed an unfinished last line") != std::string::npos, r.err);
  CHECK(r.err.find("1 to answer, 1 already in") != std::string::npos);
  const Answers a = read_answers(out);
  CHECK(a.lines == 2);
  CHECK(a.by_id.count("2") == 1);
  CHECK(a.by_id.at("1")["text"] == "x");  // the earlier answer is kept, not redone
}

TEST_CASE("cli batch: per-line max_tokens, temperature and seed; a prompt longer than the context is skipped") {
  const std::string dir = test::cli_temp_dir();
  const std::string in = dir + "/opts.jsonl", out = dir + "/opts-out.jsonl";
  std::filesystem::remove(out);
  std::string long_prompt(3000, 'a');
  std::ofstream(in) << R"({"id": "zero", "prompt": "ROMEO:", "max_tokens": 0})" "\n"
                    << R"({"id": "s1", "prompt": "ROMEO:", "max_tokens": 12, "temperature": 1.0, "seed": 5})" "\n"
                    << R"({"id": "s2", "prompt": "ROMEO:", "max_tokens": 12, "temperature": 1.0, "seed": 5})" "\n"
                    << R"({"id": "long", "prompt": ")" << long_prompt << R"("})" "\n";
  const test::CliResult r = test::run_moerun("batch -m " + kTinyMoe + " -i " + in + " -o " + out + " -c 256 --temp 0");
  REQUIRE_MESSAGE(r.status == 0, r.err);
  CHECK_MESSAGE(r.err.find("opts.jsonl:4: the prompt has") != std::string::npos, r.err);
  const Answers a = read_answers(out);
  CHECK(a.lines == 3);
  CHECK(a.by_id.at("\"zero\"")["tokens_out"] == 0);
  CHECK(a.by_id.at("\"zero\"")["finish_reason"] == "length");
  CHECK(a.by_id.at("\"s1\"")["tokens_out"] == 12);
  CHECK(a.by_id.at("\"s1\"")["text"] == a.by_id.at("\"s2\"")["text"]);  // same seed, same sample, whatever slot
}

TEST_CASE("cli batch: a missing input file, the same file for -i and -o: one-line errors, exit 2") {
  const std::string dir = test::cli_temp_dir();
  test::CliResult r = test::run_moerun("batch -m " + kTinyMoe + " -i " + dir + "/none.jsonl -o " + dir + "/o.jsonl");
  CHECK(r.status == 2);
  CHECK_MESSAGE(test::count_lines(r.err) == 1, r.err);
  CHECK(r.err.find("none.jsonl: cannot open") != std::string::npos);
  std::ofstream(dir + "/same.jsonl") << R"({"id": 1, "prompt": "x"})" "\n";
  r = test::run_moerun("batch -m " + kTinyMoe + " -i " + dir + "/same.jsonl -o " + dir + "/same.jsonl");
  CHECK(r.status == 2);
  CHECK(r.err.find("-i and -o name the same file") != std::string::npos);
}
