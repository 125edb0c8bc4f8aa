#include "core/text/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <mutex>

#include "core/error.h"
#include "core/text/utf8.h"

namespace moerun {

namespace {

// ---------------------------------------------------------------------------
// The regexes. Where llama.cpp rewrote a Hugging Face regex to suit
// std::regex (case-insensitive groups spelled out, \p{Lu} emulated with
// lookaheads, possessive quantifiers dropped), we use the original from the
// model's tokenizer.json: PCRE2 runs it as written, and the test vectors were
// made by the original.

// GPT-2 (openai/gpt-2 encoder.py).
const char* const kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
// Llama 3 (meta-llama/Meta-Llama-3-8B tokenizer.json).
const char* const kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2 (Qwen/Qwen2-7B tokenizer.json): Llama 3 with single digits.
const char* const kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen3.5: marks (\p{M}) join letters.
const char* const kQwen35 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// GPT-4o / Llama 4 (o200k).
const char* const kGpt4o =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Mistral tekken.
const char* const kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek-V3 / R1 (deepseek-ai/DeepSeek-V3 tokenizer.json), third split.
const char* const kDeepseek3Main =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek LLM (deepseek-ai/deepseek-llm-7b-base): letters spelled as ranges.
const char* const kDeepseekLlmLetters =
    "\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
    "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
    "\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba"
    "\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45"
    "\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe"
    "\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc"
    "\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"
    "\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3"
    "\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06"
    "\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3"
    "\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df"
    "\U0001e900-\U0001e943]+";
const char* const kDeepseekLlmPunct = "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+";
// CJK ideographs (U+4E00..U+9FA5), U+0800..U+4E00 (as the original), Hangul.
const char* const kDeepseekCjk = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+";
const char* const kHanKana = "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
// Falcon / default families.
const char* const kFalconPunct = R"([\p{P}\$\+<=>\^~\|`]+)";
const char* const kDefaultPunct = R"([\p{P}\$\+<=>\^~\|]+)";
// BLOOM / Poro / GPT3-Finnish: the class is literal, parentheses included.
const char* const kBloom = " ?[^(\\s|.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c)]+";
// Jais 2: Llama 3 with whitespace runs cut at powers of two.
const char* const kJais2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1})";
// Youtu.
const char* const kYoutuCjk =
    "[\uac00-\ud7a3\u3131-\u318e]+|[\uff01\u2026\u201c\u201d\u2018\u2019\u2014\uff1a\uff1b\uff0c\u3001-\u303f\ufe30-\ufe4f]+|[\u3105-\u312f]+|[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+";
const char* const kYoutuMain =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Kimi K2 (tokenization_kimi.py); Java-style class intersection `&&[^\p{Han}]`
// written as a negative lookahead.
const char* const kKimiK2 =
    R"(\p{Han}+|[^\r\n\p{L}\p{N}]?(?:(?!\p{Han})[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}])*(?:(?!\p{Han})[\p{Ll}\p{Lm}\p{Lo}\p{M}])+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?(?:(?!\p{Han})[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}])+(?:(?!\p{Han})[\p{Ll}\p{Lm}\p{Lo}\p{M}])*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Digits in groups of three counted from the right (AFMoE, Tiny Aya).
const char* const kDigitsRight3 = R"(\p{N}{1,3}(?=(?:\p{N}{3})*(?!\p{N})))";
const char* const kTinyAyaDigits = R"(\d{1,3}(?=(?:\d{3})*\b))";
const char* const kAfmoeCjk =
    "[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\u3040-\u309f\u30a0-\u30ff\uff65-\uff9f\u2f00-\u2fdf"
    "\u0e00-\u0e7f\u0e80-\u0eff\u1780-\u17ff\u1000-\u109f\uaa60-\uaa7f\ua9e0-\ua9ff\uac00-\ud7af"
    "\u1100-\u11ff]+";
// Ling / Bailing MoE: the original uses possessive quantifiers, which PCRE2 has.
const char* const kBailing =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";
const char* const kSeedCoder =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kExaoneMoe =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+)";
const char* const kMiniCpm5 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kGraniteEmbMulti =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kNewlineRuns = R"([^\n]+|[\n]+)";

struct NamedSpec {
  std::vector<const char*> names;  // tokenizer.ggml.pre values (string literals)
  PreTokenizerSpec spec;
};

// One row per llama.cpp pre-tokenizer family (src/llama-vocab.cpp,
// llm_tokenizer_bpe and llama_vocab::impl::load), with the names that select
// it. Flags mirror what load() sets per name.
const std::vector<NamedSpec>& spec_table() {
  static const std::vector<NamedSpec> table = [] {
    std::vector<NamedSpec> t;
    auto row = [&](std::vector<const char*> names, const char* family,
                   std::vector<std::string> rx) -> PreTokenizerSpec& {
      t.push_back({std::move(names), PreTokenizerSpec{family, std::move(rx)}});
      return t.back().spec;
    };
    row({"default", ""}, "default",
        {kDefaultPunct, kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"});
    {
      auto& s = row({"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0",
                     "lfm2", "jina-v5-nano"},
                    "llama3", {kLlama3});
      s.ignore_merges = true;
      s.add_bos = true;
    }
    row({"jais-2"}, "jais2", {kJais2});
    row({"dbrx"}, "dbrx", {kLlama3});
    row({"smaug-bpe"}, "smaug", {kLlama3});
    row({"deepseek-llm"}, "deepseek-llm",
        {R"([\r\n])", kDeepseekLlmLetters, kDeepseekLlmPunct, R"(\s+$)", kDeepseekCjk, R"(\p{N}+)"});
    row({"deepseek-v3"}, "deepseek3-llm", {R"(\p{N}{1,3})", kHanKana, kDeepseek3Main});
    row({"hunyuan-dense"}, "hunyuan-dense", {R"(\p{N}{1,3})", kHanKana, kDeepseek3Main});
    row({"joyai-llm"}, "joyai-llm", {R"(\p{N}{1,3})", kHanKana, kDeepseek3Main});
    row({"youtu"}, "youtu", {kYoutuCjk, kYoutuMain}).ignore_merges = true;
    row({"deepseek-coder"}, "deepseek-coder",
        {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"});
    row({"falcon"}, "falcon", {kFalconPunct, kGpt2, "[0-9][0-9][0-9]"});
    row({"starcoder"}, "starcoder", {R"(\p{N})", kGpt2});
    row({"refact"}, "refact", {R"(\p{N})", kGpt2});
    row({"command-r"}, "command-r", {R"(\p{N})", kGpt2});
    row({"smollm"}, "smollm", {R"(\p{N})", kGpt2});
    row({"codeshell"}, "codeshell", {R"(\p{N})", kGpt2});
    row({"exaone"}, "exaone", {R"(\p{N})", kGpt2});
    row({"minerva-7b"}, "minerva", {R"(\p{N})", kGpt2});
    row({"mellum2"}, "mellum2", {R"(\p{N})", kGpt2});
    row({"gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
         "mellum", "modern-bert", "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4"},
        "gpt2", {kGpt2});
    row({"mpt"}, "mpt", {kGpt2});
    row({"olmo"}, "olmo", {kGpt2});
    row({"jais"}, "jais", {kGpt2});
    row({"trillion"}, "trillion", {kGpt2});
    row({"granite-docling"}, "granite-docling", {kGpt2});
    row({"stablelm2"}, "stablelm2", {kQwen2});
    row({"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez"}, "qwen2", {kQwen2});
    row({"hunyuan"}, "hunyuan", {kQwen2});
    row({"solar-open"}, "solar-open", {kQwen2});
    row({"qwen35"}, "qwen35", {kQwen35});
    row({"poro-chat"}, "poro", {kBloom});
    row({"bloom"}, "bloom", {kBloom});
    row({"gpt3-finnish"}, "gpt3-finnish", {kBloom});
    row({"glm4", "chatglm-bpe"}, "chatglm4", {kLlama3}).no_bos = true;
    row({"viking"}, "viking", {kBloom, R"(\p{N})"});
    {
      auto& s = row({"tekken"}, "tekken", {kTekken});
      s.ignore_merges = true;
      s.add_bos = true;
    }
    {
      auto& s = row({"chameleon"}, "chameleon",
                    {R"(<sentinel:[0-9]+>)", R"((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)", R"(([\t\n]|    |  ))",
                     R"(\p{N})", R"([\p{P}!-/:-@\[-`{-~])", kGpt2});
      s.add_bos = true;
    }
    row({"gpt-4o", "llama4", "kanana2", "talkie"}, "gpt4o", {kGpt4o});
    row({"minimax-m2"}, "minimax-m2", {kGpt4o});
    row({"granite-embed-multi-97m"}, "granite-emb-multi", {kGraniteEmbMulti}).ignore_merges = true;
    row({"tiny_aya", "cohere2moe"}, "tiny-aya", {kTinyAyaDigits, kGpt4o});
    row({"kimi-k2"}, "kimi-k2", {kKimiK2});
    row({"superbpe"}, "superbpe", {R"(\p{N}+)", R"((?=(\d{3})+(?!\d)))"});
    row({"bailingmoe", "bailingmoe2", "llada-moe"}, "bailingmoe", {kBailing});
    row({"seed-coder"}, "seed-coder", {kSeedCoder});
    row({"grok-2"}, "grok-2", {kQwen2});
    row({"afmoe"}, "afmoe", {kDigitsRight3, kAfmoeCjk, kDeepseek3Main});
    row({"laguna"}, "laguna", {kNewlineRuns, kQwen2});
    row({"exaone-moe"}, "exaone-moe", {kExaoneMoe});
    {
      auto& s = row({"gemma4", "granite-embed-multi-311m"}, "gemma4", {kNewlineRuns});
      s.escape_whitespace = true;
      s.byte_encode = false;
      s.add_bos = true;
    }
    {
      auto& s = row({"sarvam-moe"}, "sarvam-moe", {kNewlineRuns});
      s.escape_whitespace = true;
      s.byte_encode = false;
    }
    {
      auto& s = row({"minicpm5"}, "minicpm5", {R"(\p{N}{1,3})", kMiniCpm5});
      s.ignore_merges = true;
    }
    {
      auto& s = row({"whitespace"}, "whitespace", {R"(\S+)"});
      s.byte_encode = false;
    }
    return t;
  }();
  return table;
}

// Hugging Face's regex engines (Oniguruma; Rust `regex`) count U+0085 (NEXT
// LINE) as \s; PCRE2's UCP \s does not. Rewrite \s / \S so the classes agree.
std::string adapt_whitespace_class(const std::string& rx) {
  std::string out;
  out.reserve(rx.size() + 16);
  bool in_class = false;
  for (size_t i = 0; i < rx.size(); ++i) {
    const char c = rx[i];
    if (c == '\\' && i + 1 < rx.size()) {
      const char n = rx[i + 1];
      if (n == 's') {
        out += in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
      } else if (n == 'S' && !in_class) {
        out += "[^\\s\\x{85}]";
      } else {
        out += c;
        out += n;
      }
      ++i;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member, not the end.
      if (i + 1 < rx.size() && rx[i + 1] == '^') out += rx[++i];
      if (i + 1 < rx.size() && rx[i + 1] == ']') out += rx[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

}  // namespace

const PreTokenizerSpec& pre_tokenizer_spec(std::string_view pre) {
  for (const auto& row : spec_table()) {
    for (const char* n : row.names) {
      if (pre == n) return row.spec;
    }
  }
  fail("tokenizer.ggml.pre: unknown pre-tokenizer '" + std::string(pre) + "'");
}

std::vector<std::string> pre_tokenizer_names() {
  std::vector<std::string> names;
  for (const auto& row : spec_table()) {
    for (const char* n : row.names) {
      if (*n) names.emplace_back(n);
    }
  }
  return names;
}

// ---------------------------------------------------------------------------

struct PreTokenizer::Impl {
  std::vector<pcre2_code*> codes;
  std::vector<uint8_t> jit;  // JIT compilation succeeded
  ~Impl() {
    for (auto* c : codes) pcre2_code_free(c);
  }
};

PreTokenizer::PreTokenizer(const PreTokenizerSpec& spec) : impl_(std::make_unique<Impl>()) {
  for (const auto& rx : spec.regexes) {
    const std::string pattern = adapt_whitespace_class(rx);
    int err = 0;
    PCRE2_SIZE err_off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP, &err, &err_off, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      fail(std::string("pre-tokenizer ") + spec.family + ": regex does not compile at offset " +
           std::to_string(err_off) + ": " + reinterpret_cast<const char*>(msg));
    }
    // JIT is an optimisation: if it is unavailable the interpreter still works.
    impl_->jit.push_back(pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0);
    impl_->codes.push_back(code);
  }
}

PreTokenizer::~PreTokenizer() = default;

namespace {

// Text the regexes can run on: well-formed UTF-8, with each invalid byte
// replaced by U+FFFD. `orig[i]` is the input offset of sanitized byte i
// (one extra entry for the end), so spans map back exactly.
struct Sanitized {
  std::string text;
  std::vector<uint32_t> orig;
  bool identity = true;
};

Sanitized sanitize(std::string_view in) {
  Sanitized s;
  if (utf8::is_valid(in)) return s;
  s.identity = false;
  s.text.reserve(in.size() + 16);
  s.orig.reserve(in.size() + 16);
  size_t pos = 0;
  uint32_t cp = 0;
  while (pos < in.size()) {
    const int n = utf8::decode(in, pos, cp);
    if (n == 0) {
      s.text += "\xEF\xBF\xBD";
      for (int k = 0; k < 3; ++k) s.orig.push_back(static_cast<uint32_t>(pos));
      pos += 1;
    } else {
      for (int k = 0; k < n; ++k) s.orig.push_back(static_cast<uint32_t>(pos + k));
      s.text.append(in.substr(pos, n));
      pos += n;
    }
  }
  s.orig.push_back(static_cast<uint32_t>(in.size()));
  return s;
}

// Splits one piece with one regex, appending the matches and the gaps between
// them (Hugging Face `Split` with behavior `Isolated`).
void split_piece(pcre2_code* code, bool jit, pcre2_match_data* md, pcre2_match_context* mctx,
                 std::string_view text, TextSpan piece, std::vector<TextSpan>& out) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
  const size_t len = piece.end - piece.begin;
  size_t emitted = 0;  // relative offset up to which pieces were emitted
  size_t start = 0;
  uint32_t options = 0;
  while (start <= len) {
    // The JIT fast path skips pcre2_match's per-call checks; it cannot do
    // PCRE2_ANCHORED, which only the empty-match retry uses.
    int rc = (jit && !(options & PCRE2_ANCHORED))
                 ? pcre2_jit_match(code, subject, len, start, options, md, mctx)
                 : pcre2_match(code, subject, len, start, options | PCRE2_NO_UTF_CHECK, md, mctx);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT) {
      // Pathological input for this pattern: try the interpreter, which has
      // a bigger budget; if it also gives up, the rest stays one piece.
      rc = pcre2_match(code, subject, len, start, options | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, mctx);
      if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) break;
    }
    if (rc == PCRE2_ERROR_NOMATCH) {
      if (options == 0) break;
      // No non-empty match at an empty-match position: step one character.
      options = 0;
      ++start;
      while (start < len && (subject[start] & 0xC0) == 0x80) ++start;
      continue;
    }
    if (rc < 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t mb = ov[0], me = ov[1];
    if (mb > emitted) out.push_back({piece.begin + emitted, piece.begin + mb});
    if (me > mb) {
      out.push_back({piece.begin + mb, piece.begin + me});
      emitted = me;
      options = 0;
    } else {
      // An empty match only marks a split point; look for a non-empty match
      // at the same place before moving on (the usual PCRE2 idiom).
      emitted = mb;
      options = PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED;
    }
    start = me;
    if (start >= len && options == 0) break;
  }
  if (emitted < len) out.push_back({piece.begin + emitted, piece.end});
}

}  // namespace

std::vector<TextSpan> PreTokenizer::split(std::string_view input) const {
  std::vector<TextSpan> pieces;
  if (input.empty()) return pieces;
  const Sanitized san = sanitize(input);
  const std::string_view text = san.identity ? input : std::string_view(san.text);
  pieces.push_back({0, text.size()});
  if (!impl_->codes.empty()) {
    // Match data and the JIT stack are per call, so one PreTokenizer serves
    // many threads. 1 MiB of JIT stack lets repeated groups run over long
    // words (the default 32 KiB gives up on a few thousand characters).
    pcre2_match_data* md = pcre2_match_data_create(8, nullptr);
    pcre2_match_context* mctx = pcre2_match_context_create(nullptr);
    pcre2_jit_stack* jstack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, nullptr);
    pcre2_jit_stack_assign(mctx, nullptr, jstack);
    std::vector<TextSpan> next;
    for (size_t r = 0; r < impl_->codes.size(); ++r) {
      next.clear();
      next.reserve(pieces.size() * 2);
      for (const TextSpan& p : pieces) {
        // A piece of one character cannot be split further: skip the call.
        const size_t n = p.end - p.begin;
        if (n == 1 || (n <= 4 && static_cast<size_t>(utf8::seq_len(static_cast<uint8_t>(text[p.begin]))) == n)) {
          next.push_back(p);
        } else {
          split_piece(impl_->codes[r], impl_->jit[r] != 0, md, mctx, text, p, next);
        }
      }
      pieces.swap(next);
    }
    pcre2_jit_stack_free(jstack);
    pcre2_match_context_free(mctx);
    pcre2_match_data_free(md);
  }
  if (!san.identity) {
    for (TextSpan& p : pieces) {
      p.begin = san.orig[p.begin];
      p.end = san.orig[p.end];
    }
  }
  return pieces;
}

}  // namespace moerun
