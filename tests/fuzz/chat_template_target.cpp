// Fuzz target: template text and a conversation through the path `moerun
// chat` takes: select_chat_template (parse, or fall back with a warning) and
// render_chat (render, or fall back on an unsupported construct).
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "core/chat/chat_template.h"
#include "core/error.h"
#include "tests/fuzz/fuzz_targets.h"

namespace moerun::fuzz {

int chat_template_input(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::vector<std::string_view> fields;
  for (size_t nul; (nul = rest.find('\0')) != std::string_view::npos; rest.remove_prefix(nul + 1)) {
    fields.push_back(rest.substr(0, nul));
  }
  fields.push_back(rest);
  const std::string_view source = fields[0];
  std::vector<ChatMessage> messages;
  for (size_t i = 1; i + 1 < fields.size(); i += 2) messages.push_back({std::string(fields[i]), std::string(fields[i + 1])});

  ChatRenderOptions options;
  options.add_generation_prompt = flags & 1;
  if (flags & 2) {
    options.bos_token = "<s>";
    options.eos_token = "</s>";
  }
  if (flags & 4) options.extra.set("enable_thinking", jinja::Value(false));
  std::tm now{};  // a fixed clock: the same input renders the same text
  now.tm_year = 125;
  now.tm_mon = 6;
  now.tm_mday = 26;
  options.now = now;
  try {
    std::string warning;
    const ChatTemplate tmpl = select_chat_template("", source, &warning);
    (void)render_chat(tmpl, messages, options, &warning);
  } catch (const Error& e) {
    expect_one_line(e);
  }
  return 0;
}

}  // namespace moerun::fuzz
