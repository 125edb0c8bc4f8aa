// HF-compatible chat rendering on top of the Jinja interpreter, plus the
// built-in templates and fallback rules documented in chat_template.h.
#include "core/chat/chat_template.h"

#include <chrono>
#include <fstream>
#include <iomanip>
#include <locale>
#include <sstream>

#include "core/error.h"

namespace moerun {
namespace {

// Built-in templates: our own minimal Jinja, written to render byte-for-byte
// like the real template of each family for system/user/assistant turns
// (tests/core/chat/test_chat_template.cpp checks that against the real ones).
// Every tag uses `-` so the layout newlines here never reach the output.

// deepseek-ai/DeepSeek-V3: system prompts joined by a blank line, no newlines
// between turns, the eos literal after each assistant turn.
constexpr std::string_view kDeepSeekV3 = R"JINJA(
{%- set ns = namespace(system='', first=true) -%}
{%- for m in messages if m.role == 'system' -%}
  {%- set ns.system = m.content if ns.first else ns.system + '\n\n' + m.content -%}
  {%- set ns.first = false -%}
{%- endfor -%}
{{- bos_token ~ ns.system -}}
{%- for m in messages -%}
  {%- if m.role == 'user' -%}
    {{- '<｜User｜>' + m.content -}}
  {%- elif m.role == 'assistant' -%}
    {{- '<｜Assistant｜>' + m.content + '<｜end▁of▁sentence｜>' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<｜Assistant｜>' -}}{%- endif -%}
)JINJA";

// deepseek-ai/DeepSeek-R1 (as in its distills): the last system prompt, past
// reasoning dropped from assistant turns, generation opens a <think> block.
constexpr std::string_view kDeepSeekR1 = R"JINJA(
{%- set ns = namespace(system='') -%}
{%- for m in messages if m.role == 'system' -%}{%- set ns.system = m.content -%}{%- endfor -%}
{{- bos_token ~ ns.system -}}
{%- for m in messages -%}
  {%- if m.role == 'user' -%}
    {{- '<｜User｜>' + m.content -}}
  {%- elif m.role == 'assistant' -%}
    {{- '<｜Assistant｜>' + m.content.split('</think>')[-1] + '<｜end▁of▁sentence｜>' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<｜Assistant｜><think>\n' -}}{%- endif -%}
)JINJA";

// deepseek-ai/DeepSeek-V3.1: like V3, but the first assistant turn after a user
// turn opens with an empty (non-thinking) <think></think>; `thinking` (or
// `enable_thinking`) = true makes the generation prompt open <think>.
constexpr std::string_view kDeepSeekV31 = R"JINJA(
{%- if thinking is not defined -%}
  {%- set thinking = enable_thinking if enable_thinking is defined else false -%}
{%- endif -%}
{%- set ns = namespace(system='', first=true, last_user=false) -%}
{%- for m in messages if m.role == 'system' -%}
  {%- set ns.system = m.content if ns.first else ns.system + '\n\n' + m.content -%}
  {%- set ns.first = false -%}
{%- endfor -%}
{{- bos_token ~ ns.system -}}
{%- for m in messages -%}
  {%- if m.role == 'user' -%}
    {{- '<｜User｜>' + m.content -}}
    {%- set ns.last_user = true -%}
  {%- elif m.role == 'assistant' -%}
    {%- if ns.last_user -%}{{- '<｜Assistant｜><think></think>' -}}{%- endif -%}
    {%- set ns.last_user = false -%}
    {%- set content = m.content.split('</think>', 1)[1] if '</think>' in m.content else m.content -%}
    {{- content + '<｜end▁of▁sentence｜>' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt and ns.last_user -%}
  {{- '<｜Assistant｜>' + ('<think>' if thinking else '<think></think>') -}}
{%- endif -%}
)JINJA";

// Qwen/Qwen3: ChatML; assistant turns after the last user turn keep their
// reasoning in <think>, earlier ones lose it; enable_thinking=false closes an
// empty <think> in the generation prompt.
constexpr std::string_view kQwen3 = R"JINJA(
{%- set ns = namespace(last_query=messages|length - 1) -%}
{%- for m in messages -%}
  {%- if m.role == 'user' -%}{%- set ns.last_query = loop.index0 -%}{%- endif -%}
{%- endfor -%}
{%- for m in messages -%}
  {%- if m.role == 'user' or m.role == 'system' -%}
    {{- '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' -}}
  {%- elif m.role == 'assistant' -%}
    {%- set content = m.content -%}
    {%- set reasoning = '' -%}
    {%- if '</think>' in m.content -%}
      {%- set content = m.content.split('</think>')[-1].lstrip('\n') -%}
      {%- set reasoning = m.content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') -%}
    {%- endif -%}
    {%- if loop.index0 > ns.last_query and (loop.last or reasoning) -%}
      {{- '<|im_start|>assistant\n<think>\n' + reasoning.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') -}}
    {%- else -%}
      {{- '<|im_start|>assistant\n' + content -}}
    {%- endif -%}
    {{- '<|im_end|>\n' -}}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
  {{- '<|im_start|>assistant\n' -}}
  {%- if enable_thinking is defined and enable_thinking is false -%}{{- '<think>\n\n</think>\n\n' -}}{%- endif -%}
{%- endif -%}
)JINJA";

// ChatML (the fallback): every turn as <|im_start|>role\n...<|im_end|>\n.
constexpr std::string_view kChatML = R"JINJA(
{%- for m in messages -%}
  {{- '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}
)JINJA";

// meta-llama Llama 3.1/3.3 Instruct: a system header always (knowledge cutoff
// and date), trimmed contents. llama3.2 differs only in taking today's date.
// Split around the date expression, which is all that differs.
constexpr std::string_view kLlama3Head = R"JINJA(
{{- bos_token -}}
{%- if messages and messages[0].role == 'system' -%}
  {%- set system_message = messages[0].content|trim -%}
  {%- set loop_messages = messages[1:] -%}
{%- else -%}
  {%- set system_message = '' -%}
  {%- set loop_messages = messages -%}
{%- endif -%}
{%- if date_string is not defined -%}{%- set date_string = )JINJA";
constexpr std::string_view kLlama3Tail = R"JINJA( -%}{%- endif -%}
{{- '<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: ' + date_string + '\n\n' + system_message + '<|eot_id|>' -}}
{%- for m in loop_messages -%}
  {{- '<|start_header_id|>' + m.role + '<|end_header_id|>\n\n' + m.content|trim + '<|eot_id|>' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}{%- endif -%}
)JINJA";

// mistralai Mistral-Nemo-Instruct-2407: roles must alternate; the system
// message goes in front of the last user turn only.
constexpr std::string_view kMistral = R"JINJA(
{%- if messages and messages[0].role == 'system' -%}
  {%- set system_message = messages[0].content -%}
  {%- set loop_messages = messages[1:] -%}
{%- else -%}
  {%- set loop_messages = messages -%}
{%- endif -%}
{%- for m in loop_messages -%}
  {%- if (m.role == 'user') != (loop.index0 % 2 == 0) -%}
    {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') -}}
  {%- endif -%}
{%- endfor -%}
{{- bos_token -}}
{%- for m in loop_messages -%}
  {%- if m.role == 'user' -%}
    {%- if loop.last and system_message is defined -%}
      {{- '[INST]' + system_message + '\n\n' + m.content + '[/INST]' -}}
    {%- else -%}
      {{- '[INST]' + m.content + '[/INST]' -}}
    {%- endif -%}
  {%- elif m.role == 'assistant' -%}
    {{- m.content + eos_token -}}
  {%- else -%}
    {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') -}}
  {%- endif -%}
{%- endfor -%}
)JINJA";

struct Builtin {
  std::string name;
  std::string source;
};

const std::vector<Builtin>& builtins() {
  static const std::vector<Builtin> k = {
      {"deepseek-v3", std::string(kDeepSeekV3)},
      {"deepseek-v3.1", std::string(kDeepSeekV31)},
      {"deepseek-r1", std::string(kDeepSeekR1)},
      {"qwen3", std::string(kQwen3)},
      {"chatml", std::string(kChatML)},
      {"llama3", std::string(kLlama3Head) + "'26 Jul 2024'" + std::string(kLlama3Tail)},
      {"llama3.2", std::string(kLlama3Head) + "strftime_now('%d %b %Y')" + std::string(kLlama3Tail)},
      {"mistral", std::string(kMistral)},
  };
  return k;
}

bool has(std::string_view text, std::string_view needle) { return text.find(needle) != std::string_view::npos; }

std::string format_time(const std::tm& t, const std::string& format) {
  // Python's strftime in the C locale ("%b" = "Mar"), whatever the process locale.
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << std::put_time(&t, format.c_str());
  return out.str();
}

std::tm local_now() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

jinja::Dict make_context(const std::vector<ChatMessage>& messages, const ChatRenderOptions& o) {
  using jinja::Value;
  std::vector<Value> list;
  for (const ChatMessage& m : messages) {
    jinja::Dict d;
    d.set("role", Value(m.role));
    d.set("content", Value(m.content));
    list.push_back(Value::dict(std::move(d)));
  }
  jinja::Dict ctx;
  ctx.set("messages", Value::list(std::move(list)));
  ctx.set("tools", Value(jinja::None{}));
  ctx.set("documents", Value(jinja::None{}));
  ctx.set("add_generation_prompt", Value(o.add_generation_prompt));
  if (!o.bos_token.empty()) ctx.set("bos_token", Value(o.bos_token));
  if (!o.eos_token.empty()) ctx.set("eos_token", Value(o.eos_token));
  add_hf_globals(ctx, o.now);
  for (const auto& [k, v] : o.extra.items) ctx.set(k, v);
  return ctx;
}

}  // namespace

void add_hf_globals(jinja::Dict& ctx, const std::optional<std::tm>& now) {
  using jinja::Value;
  ctx.set("raise_exception", Value::function("raise_exception", [](const jinja::CallArgs& a) -> Value {
            const Value* msg = a.get(0, "message");
            throw jinja::TemplateRaised(msg ? msg->str() : std::string("raise_exception called"), 0);
          }));
  ctx.set("strftime_now", Value::function("strftime_now", [now](const jinja::CallArgs& a) {
            const Value* fmt = a.get(0, "format");
            if (!fmt || !fmt->is_string()) fail("strftime_now expects a format string");
            return Value(format_time(now ? *now : local_now(), fmt->as_string()));
          }));
}

ChatFamily detect_chat_family(std::string_view src) {
  if (has(src, "<｜User｜>") || has(src, "<｜Assistant｜>")) {
    if (has(src, "<think></think>")) return ChatFamily::kDeepSeekV31;
    if (has(src, "<think>")) return ChatFamily::kDeepSeekR1;
    return ChatFamily::kDeepSeekV3;
  }
  if (has(src, "<|im_start|>")) return has(src, "<think>") ? ChatFamily::kQwen3 : ChatFamily::kChatML;
  if (has(src, "<|start_header_id|>")) return ChatFamily::kLlama3;
  if (has(src, "[INST]")) return ChatFamily::kMistral;
  return ChatFamily::kUnknown;
}

const char* chat_family_name(ChatFamily f) {
  switch (f) {
    case ChatFamily::kUnknown: return "unknown";
    case ChatFamily::kDeepSeekV3: return "deepseek-v3";
    case ChatFamily::kDeepSeekV31: return "deepseek-v3.1";
    case ChatFamily::kDeepSeekR1: return "deepseek-r1";
    case ChatFamily::kQwen3: return "qwen3";
    case ChatFamily::kChatML: return "chatml";
    case ChatFamily::kLlama3: return "llama3";
    case ChatFamily::kMistral: return "mistral";
  }
  return "unknown";
}

const char* fallback_builtin_name(ChatFamily f) {
  // Each family name doubles as its built-in's name; unknown falls back to ChatML.
  return f == ChatFamily::kUnknown ? "chatml" : chat_family_name(f);
}

std::vector<std::string> builtin_chat_template_names() {
  std::vector<std::string> names;
  for (const Builtin& b : builtins()) names.emplace_back(b.name);
  return names;
}

std::optional<std::string_view> builtin_chat_template_source(std::string_view name) {
  for (const Builtin& b : builtins())
    if (name == b.name) return b.source;
  return std::nullopt;
}

ChatTemplate::ChatTemplate(std::string_view source, std::string name)
    : template_(source, std::move(name)), family_(detect_chat_family(source)) {}

ChatTemplate ChatTemplate::builtin(std::string_view name) {
  auto src = builtin_chat_template_source(name);
  if (!src) {
    std::string names;
    for (const auto& n : builtin_chat_template_names()) names += (names.empty() ? "" : ", ") + n;
    fail("unknown built-in chat template '" + std::string(name) + "' (known: " + names + ")");
  }
  return ChatTemplate(*src, "builtin:" + std::string(name));
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, const ChatRenderOptions& options) const {
  return template_.render(make_context(messages, options));
}

ChatTemplate select_chat_template(std::string_view override_spec, std::string_view gguf_template,
                                  std::string* warning) {
  warning->clear();
  if (!override_spec.empty()) {
    if (builtin_chat_template_source(override_spec)) return ChatTemplate::builtin(override_spec);
    std::string path(override_spec);
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::string names;
      for (const auto& n : builtin_chat_template_names()) names += (names.empty() ? "" : ", ") + n;
      fail("--chat-template '" + path + "' is neither a built-in name (" + names + ") nor a readable file");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return ChatTemplate(ss.str(), path);
  }
  if (gguf_template.empty()) {
    *warning = "warning: the model has no tokenizer.chat_template; using the built-in chatml template";
    return ChatTemplate::builtin("chatml");
  }
  try {
    return ChatTemplate(gguf_template, "tokenizer.chat_template");
  } catch (const Error& e) {
    const char* fallback = fallback_builtin_name(detect_chat_family(gguf_template));
    *warning = std::string("warning: cannot use the model's chat template (") + e.what() + "); using the built-in " +
               fallback + " template";
    return ChatTemplate::builtin(fallback);
  }
}

std::string render_chat(const ChatTemplate& tmpl, const std::vector<ChatMessage>& messages,
                        const ChatRenderOptions& options, std::string* warning) {
  warning->clear();
  try {
    return tmpl.render(messages, options);
  } catch (const jinja::TemplateError& e) {
    const char* fallback = fallback_builtin_name(tmpl.family());
    if (tmpl.name() == std::string("builtin:") + fallback) throw;  // nothing better to fall back to
    *warning = std::string("warning: chat template failed (") + e.what() + "); using the built-in " + fallback +
               " template";
    return ChatTemplate::builtin(fallback).render(messages, options);
  }
}

std::string render_chat_template(std::string_view template_source, const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt, const std::string& bos_token,
                                 const std::string& eos_token) {
  ChatRenderOptions o;
  o.add_generation_prompt = add_generation_prompt;
  o.bos_token = bos_token;
  o.eos_token = eos_token;
  return ChatTemplate(template_source, "chat template").render(messages, o);
}

}  // namespace moerun
