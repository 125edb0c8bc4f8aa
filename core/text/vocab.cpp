#include "core/text/vocab.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "core/error.h"
#include "core/gguf/gguf.h"
#include "core/text/pretokenizer.h"
#include "core/text/unicode.h"

namespace moerun {

namespace {
uint64_t hash_text(std::string_view s) { return std::hash<std::string_view>{}(s); }
}  // namespace

void StringIdMap::clear() {
  slots_.clear();
  mask_ = 0;
  size_ = 0;
}

void StringIdMap::reserve(size_t n) {
  size_t cap = 16;
  while (cap * 7 < n * 10) cap *= 2;  // load factor <= 0.7
  if (cap <= slots_.size()) return;
  std::vector<Entry> old;
  old.swap(slots_);
  slots_.assign(cap, Entry{});
  mask_ = cap - 1;
  for (const Entry& e : old) {
    if (!e.data) continue;
    const uint64_t h = hash_text(std::string_view(e.data, e.len));
    size_t i = probe_start(h);
    while (slots_[i].data) i = (i + 1) & mask_;
    slots_[i] = e;
  }
}

void StringIdMap::grow() { reserve(slots_.empty() ? 16 : slots_.size() * 7 / 10 + 1); }

int32_t& StringIdMap::slot(std::string_view key, bool& inserted) {
  if ((size_ + 1) * 10 > slots_.size() * 7) grow();
  const uint64_t h = hash_text(key);
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (size_t i = probe_start(h);; i = (i + 1) & mask_) {
    Entry& e = slots_[i];
    if (!e.data) {
      e = Entry{key.data() ? key.data() : "", static_cast<uint32_t>(key.size()), tag, kTokenNull};
      ++size_;
      inserted = true;
      return e.id;
    }
    if (e.hash == tag && e.len == key.size() && std::string_view(e.data, e.len) == key) {
      inserted = false;
      return e.id;
    }
  }
}

int32_t StringIdMap::find(std::string_view key) const {
  if (slots_.empty()) return kTokenNull;
  const uint64_t h = hash_text(key);
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (size_t i = probe_start(h);; i = (i + 1) & mask_) {
    const Entry& e = slots_[i];
    if (!e.data) return kTokenNull;
    if (e.hash == tag && e.len == key.size() && std::string_view(e.data, e.len) == key) return e.id;
  }
}

uint32_t token_attr_from_gguf_type(int64_t type) {
  switch (type) {
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return kAttrUndefined;  // 0 (undefined) and anything newer
  }
}

void Vocab::apply_type_defaults() {
  // llama.cpp llama_vocab::impl::load, per tokenizer type.
  eot_id = eom_id = sep_id = pad_id = mask_id = kTokenNull;
  fim_pre_id = fim_suf_id = fim_mid_id = fim_pad_id = fim_rep_id = fim_sep_id = kTokenNull;
  if (type == VocabType::kSpm) {
    bos_id = 1;
    eos_id = 2;
    unk_id = 0;
    add_space_prefix = true;
    escape_whitespace = true;
    add_bos = true;
    add_eos = false;
    ignore_merges = false;
    byte_encode = false;
    return;
  }
  // Byte-level BPE: GPT-2's <|endoftext|> is 50256, but llama.cpp's fallback
  // is 11; real files always carry the keys.
  bos_id = 11;
  eos_id = 11;
  unk_id = kTokenNull;
  add_space_prefix = false;
  add_bos = false;
  add_eos = false;
  const PreTokenizerSpec& spec = pre_tokenizer_spec(pre);
  escape_whitespace = spec.escape_whitespace;
  ignore_merges = spec.ignore_merges;
  byte_encode = spec.byte_encode;
  if (spec.add_bos) add_bos = true;
  if (spec.no_bos) bos_id = kTokenNull;
}

Vocab Vocab::from_gguf(const GgufFile& f) {
  Vocab v;
  const std::string& path = f.path();
  v.model = f.get_string("tokenizer.ggml.model");
  v.pre = f.get_string("tokenizer.ggml.pre", "default");
  if (v.pre.empty()) v.pre = "default";
  v.name = f.get_string("general.name", "");
  if (v.model == "llama") {
    v.type = VocabType::kSpm;
  } else if (v.model == "gpt2") {
    v.type = VocabType::kBpe;
  } else if (v.model == "gemma4") {
    // SentencePiece-style BPE: merges over raw UTF-8 with U+2581 spaces.
    v.type = VocabType::kBpe;
    v.pre = "gemma4";
  } else {
    fail(path + ": tokenizer.ggml.model '" + v.model +
         "' is not supported (supported: 'llama' = SentencePiece-style, 'gpt2' = byte-level BPE, 'gemma4')");
  }
  if (v.type == VocabType::kBpe) {
    try {
      (void)pre_tokenizer_spec(v.pre);
    } catch (const Error& e) {
      fail(path + ": " + e.what());
    }
  } else {
    v.pre = "default";  // llama.cpp ignores the key for SentencePiece vocabularies
  }
  v.apply_type_defaults();
  if (v.model == "gemma4") v.bos_id = v.eos_id = kTokenNull;  // llama.cpp: from the keys only
  v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);

  const auto& texts = f.get_string_array("tokenizer.ggml.tokens");
  const size_t n = texts.size();
  if (n == 0) fail(path + ": tokenizer.ggml.tokens is empty");
  if (n > static_cast<size_t>(INT32_MAX)) fail(path + ": tokenizer.ggml.tokens has too many entries");
  std::vector<float> scores;
  if (f.has("tokenizer.ggml.scores")) {
    scores = f.get_float_array("tokenizer.ggml.scores");
    if (scores.size() < n) {
      fail(path + ": tokenizer.ggml.scores has " + std::to_string(scores.size()) + " entries, tokens has " +
           std::to_string(n));
    }
  }
  std::vector<int64_t> types;
  if (f.has("tokenizer.ggml.token_type")) {
    types = f.get_int_array("tokenizer.ggml.token_type");
    if (types.size() < n) {
      fail(path + ": tokenizer.ggml.token_type has " + std::to_string(types.size()) + " entries, tokens has " +
           std::to_string(n));
    }
  }
  v.tokens.resize(n);
  for (size_t i = 0; i < n; ++i) {
    TokenData& t = v.tokens[i];
    t.text = std::string(texts[i]);
    // An empty text could never be matched or printed; llama.cpp names it.
    if (t.text.empty()) t.text = "[EMPTY_" + std::to_string(i) + "]";
    t.score = scores.empty() ? 0.0f : scores[i];
    t.attr = types.empty() ? kAttrNormal : token_attr_from_gguf_type(types[i]);
  }

  if (v.type == VocabType::kBpe) {
    if (f.has("tokenizer.ggml.merges")) {
      const auto& merges = f.get_string_array("tokenizer.ggml.merges");
      v.merges.reserve(merges.size());
      for (std::string_view m : merges) {
        // "a b": the separator is the first space after position 0 (a part
        // can itself be a lone space only in non-byte-level vocabularies).
        const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
        if (sp == std::string_view::npos) {
          v.merges.emplace_back();  // keeps the rank numbering; never matches
        } else {
          v.merges.emplace_back(std::string(m.substr(0, sp)), std::string(m.substr(sp + 1)));
        }
      }
    } else if (v.pre != "kimi-k2") {
      fail(path + ": tokenizer.ggml.merges is missing (required for tokenizer.ggml.model 'gpt2')");
    }
  }

  // Special ids: a key overrides the default when it is in range; llama.cpp
  // ignores out-of-range values (e.g. 0xFFFFFFFF meaning "none").
  struct IdKey {
    const char* key;
    int32_t* id;
  };
  const IdKey keys[] = {
      {"tokenizer.ggml.bos_token_id", &v.bos_id},         {"tokenizer.ggml.eos_token_id", &v.eos_id},
      {"tokenizer.ggml.eot_token_id", &v.eot_id},         {"tokenizer.ggml.eom_token_id", &v.eom_id},
      {"tokenizer.ggml.unknown_token_id", &v.unk_id},     {"tokenizer.ggml.seperator_token_id", &v.sep_id},
      {"tokenizer.ggml.padding_token_id", &v.pad_id},     {"tokenizer.ggml.mask_token_id", &v.mask_id},
      {"tokenizer.ggml.fim_pre_token_id", &v.fim_pre_id}, {"tokenizer.ggml.fim_suf_token_id", &v.fim_suf_id},
      {"tokenizer.ggml.fim_mid_token_id", &v.fim_mid_id}, {"tokenizer.ggml.fim_pad_token_id", &v.fim_pad_id},
      {"tokenizer.ggml.fim_rep_token_id", &v.fim_rep_id}, {"tokenizer.ggml.fim_sep_token_id", &v.fim_sep_id},
      {"tokenizer.ggml.prefix_token_id", &v.fim_pre_id},  {"tokenizer.ggml.suffix_token_id", &v.fim_suf_id},
      {"tokenizer.ggml.middle_token_id", &v.fim_mid_id},
  };
  for (const IdKey& k : keys) {
    if (*k.id >= 0 && static_cast<size_t>(*k.id) >= n) *k.id = kTokenNull;
    if (!f.has(k.key)) continue;
    const uint64_t id = f.get_uint(k.key);
    if (id < n) *k.id = static_cast<int32_t>(id);
  }
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token", v.add_eos);
  if (v.type == VocabType::kBpe && std::string_view(pre_tokenizer_spec(v.pre).family) == "gemma4") {
    v.add_bos = true;  // llama.cpp forces BOS for Gemma 4 even against the key
  }
  try {
    v.finalize();
  } catch (const Error& e) {
    fail(path + ": " + e.what());
  }
  return v;
}

void Vocab::finalize() {
  const int32_t n = n_tokens();
  if (n == 0) fail("vocabulary has no tokens");
  auto check_id = [&](int32_t& id) {
    if (id != kTokenNull && (id < 0 || id >= n)) id = kTokenNull;
  };
  for (int32_t* id : {&bos_id, &eos_id, &unk_id, &eot_id, &eom_id, &sep_id, &pad_id, &mask_id, &fim_pre_id,
                      &fim_suf_id, &fim_mid_id, &fim_pad_id, &fim_rep_id, &fim_sep_id}) {
    check_id(*id);
  }

  // Text -> id. With duplicate texts llama.cpp keeps the last id; we do too,
  // except that a control/user-defined token never shadows a normal or byte
  // token: DeepSeek's files add user-defined copies of byte stand-ins ("ÿ",
  // "õ", ...), and merging must use the model's own token for those bytes
  // (as Hugging Face does), or the ids differ and decoding is lossy.
  text_to_id.clear();
  text_to_id.reserve(tokens.size());
  auto plain = [&](int32_t id) { return (tokens[id].attr & (kAttrNormal | kAttrByte)) != 0; };
  for (int32_t i = 0; i < n; ++i) {
    bool inserted = false;
    int32_t& id = text_to_id.slot(tokens[i].text, inserted);
    if (inserted || plain(i) || !plain(id)) id = i;
  }

  // Byte table: SentencePiece's "<0xXX>" tokens (falling back to the raw
  // one-byte text), or for byte-level BPE the GPT-2 unicode stand-in.
  for (int b = 0; b < 256; ++b) {
    int32_t id = kTokenNull;
    if (type == VocabType::kSpm || !byte_encode) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", b);
      id = find(buf);
      if (id == kTokenNull) id = find(std::string(1, static_cast<char>(b)));
    } else {
      id = find(byte_to_unicode(static_cast<uint8_t>(b)));
    }
    byte_to_id[b] = id;
  }

  // Special tokens found by text when the file has no key (llama.cpp does
  // the same: converters do not always write eot/eom/fim ids).
  auto mark_control = [&](int32_t id) { tokens[id].attr |= kAttrControl; };
  auto detect = [&](int32_t& slot, std::initializer_list<const char*> names) {
    if (slot != kTokenNull) return;
    for (const char* nm : names) {
      const int32_t id = find(nm);
      if (id != kTokenNull) {
        slot = id;
        mark_control(id);
        return;
      }
    }
  };
  detect(eot_id, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
                  "<EOT>", "_<EOT>", "[EOT]", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                  "<end_of_utterance>"});
  detect(eom_id, {"<|eom_id|>"});
  detect(fim_pre_id, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                      "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>", "\xe2\x96\x81<PRE>",
                      "<|code_prefix|>", "<|prefix|>"});
  detect(fim_suf_id, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                      "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>", "<SUF>", "\xe2\x96\x81<SUF>",
                      "<|code_suffix|>", "<|suffix|>"});
  detect(fim_mid_id, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                      "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>", "\xe2\x96\x81<MID>",
                      "<|code_middle|>", "<|middle|>"});
  detect(fim_pad_id, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"});
  detect(fim_rep_id, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
  detect(fim_sep_id, {"<|file_sep|>"});

  // Control tokens named "unused..." are unused (llama.cpp heuristic).
  for (auto& t : tokens) {
    if ((t.attr & kAttrControl) && t.text.find("unused") != std::string::npos) t.attr |= kAttrUnused;
  }

  // End-of-generation set: the FIM pad/repo/sep ids, every token whose text
  // is a known end marker, and the eos/eot/eom ids.
  eog_ids.clear();
  for (int32_t id : {fim_pad_id, fim_rep_id, fim_sep_id}) {
    if (id != kTokenNull) eog_ids.insert(id);
  }
  for (const char* nm :
       {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
        "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~["}) {
    const int32_t id = find(nm);
    if (id != kTokenNull) {
      eog_ids.insert(id);
      mark_control(id);
    }
  }
  // gpt-oss renders these as text.
  for (const char* nm : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    const int32_t id = find(nm);
    if (id != kTokenNull) tokens[id].attr = kAttrUserDefined;
  }
  for (int32_t id : {eos_id, eot_id, eom_id}) {
    if (id != kTokenNull) eog_ids.insert(id);
  }
  // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
  {
    auto has = [&](const char* nm) {
      const int32_t id = find(nm);
      return id != kTokenNull && eog_ids.count(id) > 0;
    };
    const int32_t end_id = find("<|end|>");
    if (end_id != kTokenNull && eog_ids.count(end_id) &&
        ((has("<|return|>") && has("<|call|>")) || (has("<|calls|>") && has("<|flush|>")))) {
      eog_ids.erase(end_id);
      tokens[end_id].attr = kAttrUserDefined;
    }
  }
  // Gemma 4 / PaddleOCR: "</s>" is not an end marker there.
  {
    const int32_t tr = find("<|tool_response>");
    const int32_t s = find("</s>");
    if (tr != kTokenNull && s != kTokenNull && eog_ids.count(tr) && eog_ids.count(s)) {
      eog_ids.erase(s);
      tokens[s].attr = kAttrNormal;
    }
  }

  // Tokens matched in raw text before splitting, longest first so that a
  // token containing another wins (ties: lower id first, for determinism).
  special_tokens.clear();
  for (int32_t i = 0; i < n; ++i) {
    if (tokens[i].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_tokens.push_back(i);
  }
  std::stable_sort(special_tokens.begin(), special_tokens.end(), [&](int32_t a, int32_t b) {
    return tokens[a].text.size() > tokens[b].text.size();
  });

  // Phi-3: special tokens swallow the whitespace after them (llama.cpp keys
  // this on general.name).
  std::string lname = name;
  std::transform(lname.begin(), lname.end(), lname.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lname.find("phi-3") != std::string::npos || lname.find("phi3") != std::string::npos) {
    for (int32_t id : special_tokens) tokens[id].attr |= kAttrRstrip;
    if (int32_t id = find("</s>"); id != kTokenNull) tokens[id].attr |= kAttrRstrip;
    for (const char* nm : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (int32_t id = find(nm); id != kTokenNull) tokens[id].attr &= ~kAttrRstrip;
    }
  }
}

}  // namespace moerun
