#include "cli/chat_commands.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "core/error.h"

namespace moerun::cli {

namespace {

void say(const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); }

// Whole-string numbers: "0.7x" or "" are errors, not 0.7 or 0.
bool parse_double(const std::string& s, double& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtod(s.c_str(), &end);
  return errno == 0 && end == s.c_str() + s.size();
}

bool parse_int(const std::string& s, long long& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtoll(s.c_str(), &end, 10);
  return errno == 0 && end == s.c_str() + s.size();
}

std::string rate(int64_t n, double s) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%lld tokens in %.2f s (%.1f tokens/s)", static_cast<long long>(n), s,
                s > 0 ? n / s : 0.0);
  return buf;
}

void show_stats(const ChatState& st) {
  const TurnStats& l = st.last;
  const TurnStats& t = st.total;
  say("last answer: prompt " + rate(l.prompt_tokens, l.prefill_seconds) + ", " + std::to_string(l.reused_tokens) +
      " reused from the cache; generated " + rate(l.generated, l.decode_seconds));
  say("all " + std::to_string(st.turns) + " answer(s): prompt " + rate(t.prompt_tokens, t.prefill_seconds) +
      "; generated " + rate(t.generated, t.decode_seconds));
  const int64_t used = st.session.context_used(), size = st.session.context_size();
  char buf[96];
  std::snprintf(buf, sizeof(buf), "context: %lld of %lld tokens used (%.0f%%)", static_cast<long long>(used),
                static_cast<long long>(size), size > 0 ? 100.0 * used / size : 0.0);
  say(buf);
}

void set_value(const std::string& args, ChatState& st) {
  const size_t sp = args.find(' ');
  const std::string key = args.substr(0, sp);
  const std::string val = sp == std::string::npos ? "" : args.substr(args.find_first_not_of(' ', sp));
  SamplerParams p = st.sampling;
  double d = 0;
  long long i = 0;
  const bool is_d = parse_double(val, d), is_i = parse_int(val, i);
  if (key == "temp" && is_d && d >= 0) {
    p.temp = static_cast<float>(d);
  } else if (key == "top-k" && is_i && i >= 0) {
    p.top_k = static_cast<int32_t>(i);
  } else if (key == "top-p" && is_d && d > 0 && d <= 1) {
    p.top_p = static_cast<float>(d);
  } else if (key == "min-p" && is_d && d >= 0 && d <= 1) {
    p.min_p = static_cast<float>(d);
  } else if (key == "repeat-penalty" && is_d && d > 0) {
    p.repeat_penalty = static_cast<float>(d);
  } else if (key == "repeat-last-n" && is_i && i >= -1) {
    p.repeat_last_n = static_cast<int32_t>(i);
  } else if (key == "seed" && is_i && i >= 0 && i <= 0xFFFFFFFFLL) {
    p.seed = static_cast<uint32_t>(i);
  } else if (key == "n-predict" && is_i && i >= -1) {
    st.n_predict = i;
    say("n-predict = " + val);
    return;
  } else {
    say("usage: /set temp|top-k|top-p|min-p|repeat-penalty|repeat-last-n|seed|n-predict VALUE (got '" + args + "')");
    return;
  }
  st.sampling = p;
  st.sampler = std::make_unique<Sampler>(p);
  say(key + " = " + val);
}

void save(const std::string& path, const ChatState& st) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const ChatMessage& m : st.session.messages()) j.push_back({{"role", m.role}, {"content", m.content}});
  const std::string text = j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  write_file_atomic(path, text.data(), text.size());
  say("saved " + std::to_string(st.session.messages().size()) + " message(s) to " + path);
}

void load(const std::string& path, ChatState& st) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    fail(path + ": not a saved conversation (" + std::string(e.what()) + ")");
  }
  if (j.is_object() && j.contains("messages")) j = j["messages"];
  if (!j.is_array()) fail(path + ": a saved conversation is a JSON array of {\"role\", \"content\"}");
  std::vector<ChatMessage> messages;
  for (const auto& m : j) {
    if (!m.is_object() || !m.contains("role") || !m.contains("content") || !m["role"].is_string() ||
        !m["content"].is_string()) {
      fail(path + ": message " + std::to_string(messages.size()) + " is not {\"role\": string, \"content\": string}");
    }
    messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
  }
  st.session.set_messages(std::move(messages));
  say("loaded " + std::to_string(st.session.messages().size()) + " message(s) from " + path);
}

}  // namespace

const char* chat_commands_help() {
  return "commands:\n"
         "  /help               this list\n"
         "  /reset              forget the conversation (the system prompt stays)\n"
         "  /system TEXT        set the system prompt (/system alone removes it)\n"
         "  /set KEY VALUE      temp, top-k, top-p, min-p, repeat-penalty, repeat-last-n, seed, n-predict\n"
         "  /save FILE          write the conversation as JSON\n"
         "  /load FILE          continue a saved conversation\n"
         "  /stats              tokens/s of prompt and answer, context used\n"
         "  /exit               quit (also Ctrl-D)\n"
         "input: a line ending in \\ continues on the next; \"\"\" on its own line opens and closes a\n"
         "multi-line message; //text sends /text. Ctrl-C stops an answer.";
}

void record_turn(ChatState& state, const TurnStats& t) {
  state.last = t;
  state.total.prompt_tokens += t.prompt_tokens;
  state.total.reused_tokens += t.reused_tokens;
  state.total.prefill_seconds += t.prefill_seconds;
  state.total.generated += t.generated;
  state.total.decode_seconds += t.decode_seconds;
  ++state.turns;
}

CommandResult run_chat_command(const std::string& line, ChatState& st) {
  if (line.empty() || line[0] != '/' || line.rfind("//", 0) == 0) return CommandResult::kNotCommand;
  const size_t sp = line.find(' ');
  const std::string cmd = line.substr(0, sp);
  const size_t arg0 = sp == std::string::npos ? std::string::npos : line.find_first_not_of(' ', sp);
  const std::string args = arg0 == std::string::npos ? "" : line.substr(arg0);
  try {
    if (cmd == "/exit" || cmd == "/quit" || cmd == "/bye") return CommandResult::kExit;
    if (cmd == "/help") {
      say(chat_commands_help());
    } else if (cmd == "/reset") {
      st.session.reset();
      say("conversation cleared");
    } else if (cmd == "/system") {
      st.session.set_system(args);
      say(args.empty() ? "system prompt removed" : "system prompt set");
    } else if (cmd == "/set") {
      set_value(args, st);
    } else if ((cmd == "/save" || cmd == "/load") && args.empty()) {
      say("usage: " + cmd + " FILE");
    } else if (cmd == "/save") {
      save(args, st);
    } else if (cmd == "/load") {
      load(args, st);
    } else if (cmd == "/stats") {
      show_stats(st);
    } else {
      say("unknown command '" + line + "' (/help lists them; //text sends /text)");
    }
  } catch (const Error& e) {
    say(std::string("moerun: ") + e.what());
  }
  return CommandResult::kHandled;
}

}  // namespace moerun::cli
