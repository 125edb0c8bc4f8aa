// Chat templates: every template in ../shared/testdata/templates/ x every
// conversation in tests/golden/chat_templates/chat_templates.json (made by
// tests/golden/make_chat_templates.py with Python's jinja2 as HF renders)
// must match byte-exactly; built-ins must match the real templates; family
// detection and the fallback rules.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/chat/chat_template.h"
#include "core/chat/jinja_json.h"

using namespace moerun;

namespace {

const std::string kTemplateDir = std::string(MOERUN_SOURCE_DIR) + "/../shared/testdata/templates/";
const std::string kGolden = std::string(MOERUN_SOURCE_DIR) + "/tests/golden/chat_templates/chat_templates.json";

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct GoldenCase {
  std::string tmpl, conversation;
  std::vector<ChatMessage> messages;
  ChatRenderOptions options;
  std::optional<std::string> expected;  // nullopt: Python raised
  std::string error;
  bool raised = false;
};

std::vector<GoldenCase> load_golden() {
  jinja::Value g = jinja::parse_json(read_text(kGolden));
  const auto& now = g.as_dict().find("now")->as_array().items;
  std::tm t{};
  t.tm_year = static_cast<int>(now.at(0).as_int()) - 1900;
  t.tm_mon = static_cast<int>(now.at(1).as_int()) - 1;
  t.tm_mday = static_cast<int>(now.at(2).as_int());
  t.tm_hour = static_cast<int>(now.at(3).as_int());
  t.tm_min = static_cast<int>(now.at(4).as_int());
  t.tm_sec = static_cast<int>(now.at(5).as_int());
  std::vector<GoldenCase> out;
  for (const jinja::Value& c : g.as_dict().find("cases")->as_array().items) {
    const jinja::Dict& d = c.as_dict();
    GoldenCase gc;
    gc.tmpl = d.find("template")->as_string();
    gc.conversation = d.find("conversation")->as_string();
    for (const jinja::Value& m : d.find("messages")->as_array().items)
      gc.messages.push_back({m.as_dict().find("role")->as_string(), m.as_dict().find("content")->as_string()});
    gc.options.add_generation_prompt = d.find("add_generation_prompt")->as_bool();
    gc.options.bos_token = d.find("bos_token")->as_string();
    gc.options.eos_token = d.find("eos_token")->as_string();
    gc.options.now = t;
    if (const jinja::Value* e = d.find("expected")) gc.expected = e->as_string();
    else {
      gc.error = d.find("error")->as_string();
      gc.raised = d.find("raised")->as_bool();
    }
    out.push_back(std::move(gc));
  }
  return out;
}

std::vector<std::string> template_files() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(kTemplateDir))
    if (e.path().extension() == ".jinja") names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Renders one golden case; returns "" on a match, else a description.
std::string check_case(const ChatTemplate& t, const GoldenCase& c) {
  try {
    std::string got = t.render(c.messages, c.options);
    if (!c.expected) return "rendered, but jinja2 failed with: " + c.error;
    if (got != *c.expected) return "mismatch:\n--- got ---\n" + got + "\n--- expected ---\n" + *c.expected;
    return "";
  } catch (const jinja::TemplateRaised& e) {
    if (c.raised && e.what() == c.error) return "";
    return std::string("raised: ") + e.what() + (c.expected ? "" : " / jinja2: " + c.error);
  } catch (const moerun::Error& e) {
    if (!c.expected && !c.raised) return "";  // both failed (e.g. messages[0] of an empty list)
    return std::string("error: ") + e.what();
  }
}

}  // namespace

TEST_CASE("chat template: every template x conversation matches jinja2 byte for byte") {
  std::vector<GoldenCase> cases = load_golden();
  std::vector<std::string> files = template_files();
  REQUIRE(files.size() >= 10);
  std::map<std::string, int> per_template;
  for (const GoldenCase& c : cases) per_template[c.tmpl]++;
  int passed = 0, total = 0;
  for (const std::string& file : files) {
    CAPTURE(file);
    // A new template dropped in the folder needs goldens: rerun the generator.
    CHECK_MESSAGE(per_template[file] > 0, "no golden cases for " << file << ": run tests/golden/make_chat_templates.py");
    ChatTemplate t(read_text(kTemplateDir + file), file);
    for (const GoldenCase& c : cases) {
      if (c.tmpl != file) continue;
      CAPTURE(c.conversation);
      CAPTURE(c.options.add_generation_prompt);
      std::string problem = check_case(t, c);
      CHECK_MESSAGE(problem.empty(), problem);
      passed += problem.empty();
      ++total;
    }
  }
  MESSAGE(passed << "/" << total << " chat template cases match");
  CHECK(total == static_cast<int>(cases.size()));
}

TEST_CASE("chat template: family detection of the real templates") {
  const std::map<std::string, ChatFamily> expected = {
      {"Mistral-Small-3.2-24B-Instruct-2506.jinja", ChatFamily::kMistral},
      {"Qwen-Qwen3-0.6B.jinja", ChatFamily::kQwen3},
      {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", ChatFamily::kDeepSeekR1},
      {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", ChatFamily::kDeepSeekR1},
      {"deepseek-ai-DeepSeek-V3.1.jinja", ChatFamily::kDeepSeekV31},
      {"deepseek-ai-DeepSeek-V3.jinja", ChatFamily::kDeepSeekV3},
      {"llama-cpp-deepseek-r1.jinja", ChatFamily::kDeepSeekR1},
      {"meta-llama-Llama-3.1-8B-Instruct.jinja", ChatFamily::kLlama3},
      {"meta-llama-Llama-3.2-3B-Instruct.jinja", ChatFamily::kLlama3},
      {"mistralai-Mistral-Nemo-Instruct-2407.jinja", ChatFamily::kMistral},
  };
  for (const std::string& file : template_files()) {
    CAPTURE(file);
    auto it = expected.find(file);
    if (it == expected.end()) continue;  // a new template: detection is best effort
    CHECK(chat_family_name(detect_chat_family(read_text(kTemplateDir + file))) ==
          std::string(chat_family_name(it->second)));
  }
  CHECK(detect_chat_family("{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}") == ChatFamily::kChatML);
  CHECK(detect_chat_family("{{ messages }}") == ChatFamily::kUnknown);
}

TEST_CASE("chat template: built-ins render like the real templates") {
  const std::map<std::string, std::string> real = {
      {"deepseek-v3", "deepseek-ai-DeepSeek-V3.jinja"},
      {"deepseek-v3.1", "deepseek-ai-DeepSeek-V3.1.jinja"},
      {"deepseek-r1", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja"},
      {"qwen3", "Qwen-Qwen3-0.6B.jinja"},
      {"llama3", "meta-llama-Llama-3.1-8B-Instruct.jinja"},
      {"llama3.2", "meta-llama-Llama-3.2-3B-Instruct.jinja"},
      {"mistral", "mistralai-Mistral-Nemo-Instruct-2407.jinja"},
  };
  std::vector<GoldenCase> cases = load_golden();
  for (const auto& entry : real) {
    const auto& name = entry.first;  // not a structured binding: clang 14 cannot capture one in CAPTURE
    const auto& file = entry.second;
    ChatTemplate t = ChatTemplate::builtin(name);
    CHECK(t.family() == detect_chat_family(read_text(kTemplateDir + file)));
    int compared = 0;
    for (const GoldenCase& c : cases) {
      // Built-ins promise equality for plain turns; where the real template
      // fails (an empty conversation) a built-in may render something.
      if (c.tmpl != file || c.conversation == "empty") continue;
      CAPTURE(name);
      CAPTURE(c.conversation);
      CAPTURE(c.options.add_generation_prompt);
      std::string problem = check_case(t, c);
      CHECK_MESSAGE(problem.empty(), problem);
      ++compared;
    }
    CHECK(compared >= 14);
  }
}

TEST_CASE("chat template: chatml built-in") {
  ChatRenderOptions o;
  o.add_generation_prompt = true;
  std::vector<ChatMessage> msgs = {{"system", "S"}, {"user", "U"}, {"assistant", "A"}, {"user", "V"}};
  CHECK(ChatTemplate::builtin("chatml").render(msgs, o) ==
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
        "<|im_start|>user\nV<|im_end|>\n<|im_start|>assistant\n");
  o.add_generation_prompt = false;
  CHECK(ChatTemplate::builtin("chatml").render({{"user", "U"}}, o) == "<|im_start|>user\nU<|im_end|>\n");
  CHECK_THROWS_AS(ChatTemplate::builtin("nope"), moerun::Error);
}

TEST_CASE("chat template: extra variables reach the template") {
  ChatRenderOptions o;
  o.add_generation_prompt = true;
  o.extra.set("enable_thinking", jinja::Value(false));
  std::string src = read_text(kTemplateDir + "Qwen-Qwen3-0.6B.jinja");
  CHECK(ChatTemplate(src, "qwen3").render({{"user", "hi"}}, o) ==
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  CHECK(ChatTemplate::builtin("qwen3").render({{"user", "hi"}}, o) ==
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  o.extra = {};
  o.extra.set("thinking", jinja::Value(true));
  o.bos_token = "<B>";
  CHECK(ChatTemplate::builtin("deepseek-v3.1").render({{"user", "hi"}}, o) == "<B><｜User｜>hi<｜Assistant｜><think>");
  CHECK(ChatTemplate(read_text(kTemplateDir + "deepseek-ai-DeepSeek-V3.1.jinja"), "v31").render({{"user", "hi"}}, o) ==
        "<B><｜User｜>hi<｜Assistant｜><think>");
}

TEST_CASE("chat template: selection and fallback") {
  std::string warning;
  // A built-in name wins over the GGUF's template.
  ChatTemplate a = select_chat_template("deepseek-v3", "{{ messages }}", &warning);
  CHECK(a.name() == "builtin:deepseek-v3");
  CHECK(warning.empty());
  // A file path.
  std::string file = kTemplateDir + "deepseek-ai-DeepSeek-V3.jinja";
  CHECK(select_chat_template(file, "", &warning).family() == ChatFamily::kDeepSeekV3);
  CHECK(warning.empty());
  // Neither: an error that lists the names.
  try {
    select_chat_template("no-such-template-or-file", "", &warning);
    FAIL("no error");
  } catch (const moerun::Error& e) {
    CHECK(std::string(e.what()).find("chatml") != std::string::npos);
  }
  // The GGUF's own template, parsed fine.
  CHECK(select_chat_template("", "{{ bos_token }}", &warning).name() == "tokenizer.chat_template");
  CHECK(warning.empty());
  // No template: ChatML with a warning.
  CHECK(select_chat_template("", "", &warning).name() == "builtin:chatml");
  CHECK(warning.find("no tokenizer.chat_template") != std::string::npos);
  // An unparsable DeepSeek-looking template: the DeepSeek built-in, with a warning.
  ChatTemplate f = select_chat_template("", "<｜User｜>{% include 'x' %}", &warning);
  CHECK(f.name() == "builtin:deepseek-v3");
  CHECK(warning.find("unsupported tag 'include'") != std::string::npos);
  // Unknown family and unparsable: ChatML.
  CHECK(select_chat_template("", "{% nonsense %}", &warning).name() == "builtin:chatml");
}

TEST_CASE("chat template: render_chat falls back on interpreter errors, not on raise_exception") {
  std::string warning;
  ChatRenderOptions o;
  o.add_generation_prompt = false;
  // Fails at render time (attribute of an undefined): ChatML output + warning.
  ChatTemplate broken("{{ nothing.attr }}", "broken");
  CHECK(render_chat(broken, {{"user", "U"}}, o, &warning) == "<|im_start|>user\nU<|im_end|>\n");
  CHECK(warning.find("'nothing' is undefined") != std::string::npos);
  // The template's own rejection is reported, not papered over.
  ChatTemplate mistral = ChatTemplate::builtin("mistral");
  CHECK_THROWS_AS(render_chat(mistral, {{"user", "a"}, {"user", "b"}}, o, &warning), jinja::TemplateRaised);
  // The one-shot helper.
  CHECK(render_chat_template("{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
                             "{% if add_generation_prompt %}>{% endif %}{{ eos_token }}",
                             {{"user", "hi"}}, true, "<s>", "</s>") == "<s>[user:hi]></s>");
}
