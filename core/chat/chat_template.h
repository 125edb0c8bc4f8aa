// Chat templates: turns a conversation into the prompt text a model was
// trained on, by running the model's own Jinja template (tokenizer.chat_template)
// in moerun's interpreter (core/chat/jinja_template.h), the way Hugging Face
// transformers' apply_chat_template renders it.
// Owns: the HF render context (messages, tools=None, documents=None,
// add_generation_prompt, bos/eos, raise_exception, strftime_now), family
// detection, the built-in templates behind `--chat-template NAME`, and the
// fallback rules. Does not own: tokenization of the result.
//
// Choosing the template (select_chat_template), in order:
//   1. `--chat-template NAME|FILE`: a built-in NAME (builtin_chat_template_names()),
//      else the path of a Jinja file. Failure to read or parse it is an Error:
//      the user asked for it.
//   2. the GGUF's tokenizer.chat_template, run unchanged.
//   3. fallback, with a warning: when the GGUF has no template, or its template
//      does not parse (or later fails while rendering, see render_chat), the
//      built-in template of the detected family, or ChatML when the family is
//      unknown. A template's own raise_exception (e.g. roles that do not
//      alternate) is never a reason to fall back: it is reported as an Error.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/chat/jinja_template.h"

namespace moerun {

struct ChatMessage {
  std::string role;     // "system", "user", "assistant" (templates may accept others)
  std::string content;
};

enum class ChatFamily {
  kUnknown,
  kDeepSeekV3,   // <｜User｜>/<｜Assistant｜>, no <think>
  kDeepSeekV31,  // ... with <think></think> (thinking / non-thinking modes)
  kDeepSeekR1,   // ... with <think> (R1 and its distills)
  kQwen3,        // ChatML with <think>
  kChatML,       // <|im_start|>role\n...<|im_end|>
  kLlama3,       // <|start_header_id|>role<|end_header_id|>
  kMistral,      // [INST] ... [/INST]
};

// Recognises the family from marker strings in the template text. Used for
// naming and for choosing a fallback, never to bypass the template.
ChatFamily detect_chat_family(std::string_view template_source);
const char* chat_family_name(ChatFamily family);

struct ChatRenderOptions {
  bool add_generation_prompt = true;
  // Empty = left undefined, as HF leaves a null special token out of the context.
  std::string bos_token;
  std::string eos_token;
  // The local time strftime_now() formats; unset = the real clock. Tests fix it.
  std::optional<std::tm> now;
  // More variables for the template (e.g. enable_thinking = false, tools).
  jinja::Dict extra;
};

class ChatTemplate {
 public:
  // Parses `source`; throws moerun::Error naming `name` and the line.
  ChatTemplate(std::string_view source, std::string name);

  // A built-in template by name; throws Error listing the names for an unknown one.
  static ChatTemplate builtin(std::string_view name);

  // Throws jinja::TemplateRaised when the template rejects the conversation,
  // jinja::TemplateError for an unsupported construct met while rendering.
  std::string render(const std::vector<ChatMessage>& messages, const ChatRenderOptions& options) const;

  const std::string& name() const { return template_.name(); }
  ChatFamily family() const { return family_; }

 private:
  jinja::Template template_;
  ChatFamily family_;
};

// Names accepted by ChatTemplate::builtin: deepseek-v3, deepseek-v3.1,
// deepseek-r1, qwen3, chatml, llama3 (3.1/3.3, fixed date), llama3.2
// (strftime_now date), mistral (Nemo-style [INST], system in the last turn).
std::vector<std::string> builtin_chat_template_names();
// The Jinja source of a built-in, or nullopt.
std::optional<std::string_view> builtin_chat_template_source(std::string_view name);
// The built-in used when a template of `family` cannot be used.
const char* fallback_builtin_name(ChatFamily family);

// Rules 1-3 above. `warning` receives a one-line message when a fallback was
// taken (and is cleared otherwise).
ChatTemplate select_chat_template(std::string_view override_spec, std::string_view gguf_template,
                                  std::string* warning);

// Renders with `tmpl`; if that fails with a TemplateError (not the template's
// own raise_exception), warns through `warning` and renders with the family's
// fallback built-in instead.
std::string render_chat(const ChatTemplate& tmpl, const std::vector<ChatMessage>& messages,
                        const ChatRenderOptions& options, std::string* warning);

// Adds HF's template globals to `context`: raise_exception(message), which
// throws jinja::TemplateRaised, and strftime_now(format) on `now` (unset = the
// real local clock).
void add_hf_globals(jinja::Dict& context, const std::optional<std::tm>& now);

// One-shot render of `template_source` (the real clock, no extra variables).
std::string render_chat_template(std::string_view template_source, const std::vector<ChatMessage>& messages,
                                 bool add_generation_prompt, const std::string& bos_token,
                                 const std::string& eos_token);

}  // namespace moerun
