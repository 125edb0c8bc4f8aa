#include "core/text/tokenizer_json.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/text/pretokenizer.h"

namespace moerun {

namespace {

using nlohmann::json;

json read_json(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path + ": cannot open file");
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    fail(path + ": not valid JSON: " + e.what());
  }
}

// convert_hf_to_gguf.py does_token_look_special().
bool looks_special(const std::string& t) {
  auto ends = [&](std::string_view s) { return t.size() >= s.size() && t.compare(t.size() - s.size(), s.size(), s) == 0; };
  auto starts = [&](std::string_view s) { return t.compare(0, s.size(), s) == 0; };
  if (t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]") return true;
  if (starts("<|") && ends("|>")) return true;
  if (starts("<\xef\xbd\x9c") && ends("\xef\xbd\x9c>")) return true;  // <｜...｜> (DeepSeek)
  return starts("<unused") && ends(">");
}

// A pre-tokenizer node -> regexes (appended) and whether bytes are mapped.
void collect_pre(const std::string& path, const json& node, std::vector<std::string>& rx, bool& byte_level) {
  const std::string type = node.value("type", "");
  if (type == "Sequence") {
    for (const json& p : node.at("pretokenizers")) collect_pre(path, p, rx, byte_level);
  } else if (type == "Split") {
    const json& pat = node.at("pattern");
    std::string r;
    if (pat.contains("Regex")) {
      r = pat.at("Regex").get<std::string>();
    } else {
      // A literal string: escape it for the regex engine.
      for (char c : pat.at("String").get<std::string>()) {
        if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) r += '\\';
        r += c;
      }
    }
    if (node.value("behavior", "") != "Isolated" || node.value("invert", false)) {
      fail(path + ": pre_tokenizer Split with behavior '" + node.value("behavior", "") +
           "' (invert " + (node.value("invert", false) ? "true" : "false") + ") is not supported (only Isolated)");
    }
    rx.push_back(r);
  } else if (type == "ByteLevel") {
    byte_level = true;
    if (node.value("add_prefix_space", false)) fail(path + ": ByteLevel add_prefix_space = true is not supported");
    if (node.value("use_regex", true)) {
      rx.emplace_back(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))");
    }
  } else if (type == "Digits") {
    rx.emplace_back(node.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
  } else {
    fail(path + ": pre_tokenizer type '" + type + "' is not supported");
  }
}

// Regexes as written in tokenizer.json carry raw CR/LF/TAB; the spec table
// spells them as escapes. Compare in one spelling.
std::string canonical(const std::string& r) {
  std::string o;
  for (char c : r) {
    if (c == '\r') {
      o += "\\r";
    } else if (c == '\n') {
      o += "\\n";
    } else if (c == '\t') {
      o += "\\t";
    } else {
      o += c;
    }
  }
  return o;
}

int32_t special_from_config(const json& cfg, const char* key, const Vocab& v) {
  if (!cfg.contains(key) || cfg.at(key).is_null()) return kTokenNull;
  const json& t = cfg.at(key);
  const std::string text = t.is_string() ? t.get<std::string>() : t.value("content", "");
  return v.find(text);
}

}  // namespace

Vocab vocab_from_tokenizer_json(const std::string& path, const std::string& config_path) {
  const json j = read_json(path);
  Vocab v;
  try {
    const json& model = j.at("model");
    if (model.value("type", "") != "BPE") fail(path + ": model.type '" + model.value("type", "") + "' is not supported (BPE only)");
    v.type = VocabType::kBpe;
    v.model = "gpt2";

    // Ids: the model's vocab plus added tokens; holes become unused "[PADn]"
    // tokens, as the converter writes them.
    int64_t n = 0;
    for (const auto& [text, id] : model.at("vocab").items()) n = std::max<int64_t>(n, id.get<int64_t>() + 1);
    const json added = j.value("added_tokens", json::array());
    for (const json& a : added) n = std::max<int64_t>(n, a.at("id").get<int64_t>() + 1);
    if (n <= 0 || n > INT32_MAX) fail(path + ": vocabulary size " + std::to_string(n) + " is out of range");
    v.tokens.resize(static_cast<size_t>(n));
    std::vector<bool> present(static_cast<size_t>(n), false);
    for (const auto& [text, id] : model.at("vocab").items()) {
      const int64_t i = id.get<int64_t>();
      if (i < 0) fail(path + ": negative id for token '" + text + "'");
      v.tokens[i] = {text, 0.0f, kAttrNormal};
      present[i] = true;
    }
    for (const json& a : added) {
      const int64_t i = a.at("id").get<int64_t>();
      if (i < 0) fail(path + ": negative added-token id");
      const std::string text = a.at("content").get<std::string>();
      const bool control = a.value("special", false) || looks_special(text);
      v.tokens[i] = {text, 0.0f, control ? kAttrControl : kAttrUserDefined};
      present[i] = true;
    }
    for (int64_t i = 0; i < n; ++i) {
      if (!present[i]) v.tokens[i] = {"[PAD" + std::to_string(i) + "]", 0.0f, kAttrUnused};
    }

    for (const json& m : model.at("merges")) {
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const size_t sp = s.size() > 1 ? s.find(' ', 1) : std::string::npos;
        if (sp == std::string::npos) {
          v.merges.emplace_back();
        } else {
          v.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
        }
      } else {
        v.merges.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
      }
    }

    std::vector<std::string> rx;
    bool byte_level = false;
    if (j.contains("pre_tokenizer") && !j.at("pre_tokenizer").is_null()) collect_pre(path, j.at("pre_tokenizer"), rx, byte_level);
    if (j.contains("decoder") && !j.at("decoder").is_null() && j.at("decoder").value("type", "") == "ByteLevel") {
      byte_level = true;
    }
    if (!byte_level) fail(path + ": only byte-level BPE (a ByteLevel pre-tokenizer or decoder) is supported");

    // Name the pre-tokenizer when the regexes are exactly a known family's
    // (so GGUFs made from this file and this loader agree); otherwise keep
    // the file's regexes as they are.
    v.pre = "";
    for (const std::string& name : pre_tokenizer_names()) {
      const PreTokenizerSpec& s = pre_tokenizer_spec(name);
      if (s.regexes.size() != rx.size() || !s.byte_encode) continue;
      bool same = true;
      for (size_t i = 0; i < rx.size() && same; ++i) same = canonical(rx[i]) == canonical(s.regexes[i]);
      if (same) {
        v.pre = name;
        break;
      }
    }
    if (v.pre.empty()) {
      v.pre = "default";
      v.pre_regexes = rx;
      if (v.pre_regexes.empty()) v.pre_regexes.emplace_back(R"([\s\S]+)");  // no split at all
    }
    v.apply_type_defaults();
    v.ignore_merges = model.value("ignore_merges", v.ignore_merges);
    v.bos_id = v.eos_id = kTokenNull;

    v.finalize();  // builds the text index the config lookups need
    if (!config_path.empty()) {
      const json cfg = read_json(config_path);
      v.bos_id = special_from_config(cfg, "bos_token", v);
      v.eos_id = special_from_config(cfg, "eos_token", v);
      v.unk_id = special_from_config(cfg, "unk_token", v);
      v.pad_id = special_from_config(cfg, "pad_token", v);
      v.add_bos = cfg.value("add_bos_token", false) && v.bos_id != kTokenNull;
      v.add_eos = cfg.value("add_eos_token", false) && v.eos_id != kTokenNull;
      v.finalize();  // again: the end-of-generation set depends on eos
    }
  } catch (const json::exception& e) {
    fail(path + ": unexpected structure: " + e.what());
  }
  return v;
}

}  // namespace moerun
