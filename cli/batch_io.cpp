#include "cli/batch_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>

#include "core/error.h"

namespace moerun::cli {

using nlohmann::json;

namespace {

// A JSON value's type in words, for messages.
std::string kind(const json& v) {
  if (v.is_string()) return "a string";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_boolean()) return "a boolean";
  if (v.is_null()) return "null";
  if (v.is_array()) return "an array";
  return "an object";
}

ChatMessage parse_message(const json& m, size_t i) {
  const std::string where = "messages[" + std::to_string(i) + "]";
  if (!m.is_object()) fail(where + " is " + kind(m) + ", not an object");
  const auto role = m.find("role");
  const auto content = m.find("content");
  if (role == m.end() || !role->is_string()) fail(where + " needs a string \"role\"");
  if (content == m.end() || !content->is_string()) fail(where + " needs a string \"content\"");
  return {role->get<std::string>(), content->get<std::string>()};
}

// The first line of a library message (nlohmann's carry a "[json.exception...]" prefix).
// Any json::exception: a number too large for a double is out_of_range, not
// a parse_error, and must skip the line like any other malformed one.
std::string parse_error_text(const json::exception& e) {
  std::string s = e.what();
  const size_t close = s.find("] ");
  if (s.rfind("[json.exception", 0) == 0 && close != std::string::npos) s = s.substr(close + 2);
  return "not valid JSON: " + s;
}

}  // namespace

BatchRequest parse_batch_request(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(parse_error_text(e));
  }
  if (!j.is_object()) fail("a request is a JSON object, this line is " + kind(j));
  BatchRequest r;
  const auto id = j.find("id");
  if (id == j.end()) fail("no \"id\"");
  if (!id->is_string() && !id->is_number()) fail("\"id\" is " + kind(*id) + ", not a string or a number");
  r.id = *id;
  r.id_key = id->dump();
  const auto prompt = j.find("prompt");
  const auto messages = j.find("messages");
  if ((prompt == j.end()) == (messages == j.end())) fail("give exactly one of \"prompt\" and \"messages\"");
  if (prompt != j.end()) {
    if (!prompt->is_string()) fail("\"prompt\" is " + kind(*prompt) + ", not a string");
    r.prompt = prompt->get<std::string>();
  } else {
    if (!messages->is_array()) fail("\"messages\" is " + kind(*messages) + ", not an array");
    if (messages->empty()) fail("\"messages\" is empty");
    r.chat = true;
    for (size_t i = 0; i < messages->size(); ++i) r.messages.push_back(parse_message((*messages)[i], i));
  }
  if (const auto v = j.find("max_tokens"); v != j.end()) {
    if (!v->is_number_integer() || v->get<int64_t>() < 0) fail("\"max_tokens\" must be an integer >= 0");
    r.max_tokens = v->get<int64_t>();
  }
  if (const auto v = j.find("temperature"); v != j.end()) {
    if (!v->is_number() || v->get<double>() < 0) fail("\"temperature\" must be a number >= 0");
    r.temperature = v->get<float>();
  }
  if (const auto v = j.find("seed"); v != j.end()) {
    if (!v->is_number_integer() || v->get<int64_t>() < 0 ||
        v->get<int64_t>() > static_cast<int64_t>(std::numeric_limits<uint32_t>::max())) {
      fail("\"seed\" must be an integer from 0 to 4294967295");
    }
    r.seed = static_cast<uint32_t>(v->get<int64_t>());
  }
  return r;
}

BatchInput read_batch_input(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path + ": cannot open: " + std::strerror(errno));
  BatchInput out;
  std::map<std::string, std::vector<int64_t>> lines_of;  // id key -> lines
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    try {
      BatchRequest r = parse_batch_request(line);
      r.line = n;
      lines_of[r.id_key].push_back(n);
      out.requests.push_back(std::move(r));
    } catch (const Error& e) {
      std::fprintf(stderr, "moerun: batch: %s:%lld: %s; line skipped\n", path.c_str(), static_cast<long long>(n),
                   e.what());
      ++out.n_malformed;
    }
  }
  std::string dups;
  int n_dups = 0;
  for (const auto& [key, lines] : lines_of) {
    if (lines.size() < 2) continue;
    if (++n_dups > 10) continue;  // the first ten say enough
    dups += (dups.empty() ? "" : ", ") + key + " (lines";
    for (size_t i = 0; i < lines.size(); ++i) dups += (i ? ", " : " ") + std::to_string(lines[i]);
    dups += ")";
  }
  if (n_dups > 0) {
    if (n_dups > 10) dups += " and " + std::to_string(n_dups - 10) + " more";
    fail(path + ": duplicate ids: " + dups + "; every request needs its own id");
  }
  return out;
}

std::set<std::string> read_answered_ids(const std::string& path) {
  std::set<std::string> ids;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    if (errno == ENOENT) return ids;
    fail(path + ": cannot open: " + std::strerror(errno));
  }
  std::string data;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) data.append(buf, n);
  std::fclose(f);
  // A crash mid-write leaves a last line without its newline: drop it (its
  // request was not answered) so the next answer starts on a fresh line.
  const size_t end = data.empty() ? 0 : data.rfind('\n') + 1;  // npos + 1 == 0
  if (end < data.size()) {
    if (::truncate(path.c_str(), static_cast<off_t>(end)) != 0) {
      fail_runtime(path + ": cannot remove the unfinished last line: " + std::strerror(errno));
    }
    std::fprintf(stderr, "moerun: batch: %s: removed an unfinished last line (%zu bytes) left by an interrupted run\n",
                 path.c_str(), data.size() - end);
  }
  size_t pos = 0;
  for (int64_t line = 1; pos < end; ++line) {
    const size_t nl = data.find('\n', pos);
    const std::string text = data.substr(pos, nl - pos);
    pos = nl + 1;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      const json j = json::parse(text);
      const auto id = j.is_object() ? j.find("id") : j.end();
      if (id == j.end() || !(id->is_string() || id->is_number())) throw std::runtime_error("no id");
      ids.insert(id->dump());
    } catch (const std::exception&) {
      std::fprintf(stderr, "moerun: batch: %s:%lld: not an answer line; ignored (its request runs again)\n",
                   path.c_str(), static_cast<long long>(line));
    }
  }
  return ids;
}

std::string answer_json(const BatchAnswer& a) {
  nlohmann::ordered_json j;  // the fields in the documented order
  j["id"] = a.id;
  j["text"] = a.text;
  j["tokens_in"] = a.tokens_in;
  j["tokens_out"] = a.tokens_out;
  j["finish_reason"] = a.finish_reason;
  j["ms"] = a.ms;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

AnswerWriter::AnswerWriter(const std::string& path) : path_(path) {
  f_ = std::fopen(path.c_str(), "ab");
  if (f_ == nullptr) fail(path + ": cannot open for appending: " + std::strerror(errno));
}

AnswerWriter::~AnswerWriter() {
  if (f_ != nullptr) std::fclose(f_);
}

void AnswerWriter::write(const BatchAnswer& a) {
  const std::string line = answer_json(a) + "\n";
  // One fwrite and a flush: the line reaches the file whole before the
  // next request's work starts.
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0) {
    fail_runtime(path_ + ": write failed: " + std::strerror(errno));
  }
}

}  // namespace moerun::cli
