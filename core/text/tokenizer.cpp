#include "core/text/tokenizer.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/gguf/gguf.h"
#include "core/text/tokenizer_bpe.h"
#include "core/text/tokenizer_spm.h"
#include "core/text/unicode.h"
#include "core/text/utf8.h"

namespace moerun {

namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (s.find(from) == std::string::npos) return;
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(s, pos, hit - pos);
    out.append(to);
  }
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

// ASCII whitespace, what llama.cpp's isspace() strips next to lstrip/rstrip
// special tokens.
bool is_ascii_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Byte-level BPE text back to bytes. A code point that stands for no byte
// (possible only in hand-made vocabularies) is kept as its UTF-8.
std::string byte_level_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  uint32_t cp = 0;
  while (pos < text.size()) {
    int n = utf8::decode(text, pos, cp);
    if (n == 0) {
      out += text[pos];
      ++pos;
      continue;
    }
    const int b = unicode_to_byte(cp);
    if (b >= 0) {
      out += static_cast<char>(b);
    } else {
      out.append(text.substr(pos, n));
    }
    pos += n;
  }
  return out;
}

struct Fragment {
  int32_t token;  // kTokenNull for raw text
  size_t begin;
  size_t end;
};

}  // namespace

// ---------------------------------------------------------------------------

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  if (vocab_.type == VocabType::kSpm) {
    spm_ = std::make_unique<SpmEncoder>(vocab_);
  } else {
    bpe_ = std::make_unique<BpeEncoder>(vocab_);
  }
  for (auto& l : special_lengths_) l.assign(256, {});
  for (uint32_t prio = 0; prio < vocab_.special_tokens.size(); ++prio) {
    const TokenData& t = vocab_.tokens[vocab_.special_tokens[prio]];
    const auto b = static_cast<unsigned char>(t.text[0]);  // texts are never empty (vocab)
    for (int mode = 0; mode < 2; ++mode) {
      if (mode == 1 && (t.attr & (kAttrControl | kAttrUnknown))) continue;
      // Equal texts: the first (longest-first order) claims every
      // occurrence, so later duplicates could never match anyway.
      bool inserted = false;
      int32_t& slot = special_index_[mode].slot(t.text, inserted);
      if (inserted) slot = static_cast<int32_t>(prio);
      auto& lens = special_lengths_[mode][b];
      if (std::find(lens.begin(), lens.end(), t.text.size()) == lens.end()) {
        lens.push_back(static_cast<uint32_t>(t.text.size()));
      }
    }
  }
  // Pieces as llama.cpp's token_to_piece(special = true) gives them.
  pieces_.resize(vocab_.tokens.size());
  for (size_t id = 0; id < vocab_.tokens.size(); ++id) {
    const TokenData& t = vocab_.tokens[id];
    std::string& p = pieces_[id];
    if (t.attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) {
      p = t.text;
    } else if (t.attr & kAttrNormal) {
      if (vocab_.type == VocabType::kSpm || vocab_.escape_whitespace) {
        p = t.text;
        replace_all(p, "\xE2\x96\x81", " ");
      } else if (vocab_.byte_encode) {
        p = byte_level_decode(t.text);
      } else {
        p = t.text;
      }
    } else if (t.attr & kAttrByte) {
      // "<0xXX>"; anything else typed as a byte token keeps its text.
      if (t.text.size() == 6 && t.text.compare(0, 3, "<0x") == 0 && t.text[5] == '>') {
        p = std::string(1, static_cast<char>(std::strtol(t.text.substr(3, 2).c_str(), nullptr, 16)));
      } else {
        p = t.text;
      }
    }
    // Unused and undefined tokens print nothing, as in llama.cpp.
  }
}

Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& f) {
  return std::unique_ptr<Tokenizer>(new Tokenizer(Vocab::from_gguf(f)));
}

std::unique_ptr<Tokenizer> Tokenizer::from_vocab(Vocab vocab) {
  if (vocab.text_to_id.empty()) vocab.finalize();
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(vocab)));
}

bool Tokenizer::is_control(int32_t id) const {
  return id >= 0 && id < n_vocab() && (vocab_.tokens[id].attr & kAttrControl);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  // 1. Split special-token text out of the raw text, like llama.cpp's
  //    tokenizer_st_partition: tokens are taken longest first; each takes
  //    its non-overlapping occurrences left to right inside text that no
  //    earlier token claimed. lstrip/rstrip tokens also claim the ASCII
  //    whitespace next to them.
  std::vector<Fragment> frags;
  if (!text.empty()) {
    struct Hit {
      uint32_t prio;  // index in vocab_.special_tokens
      size_t pos;
    };
    std::vector<Hit> hits;
    const auto& specials = vocab_.special_tokens;
    const int mode = parse_special ? 0 : 1;
    const auto& lengths = special_lengths_[mode];
    const StringIdMap& index = special_index_[mode];
    for (int b = 0; b < 256; ++b) {
      if (lengths[b].empty()) continue;
      const char* base = text.data();
      for (const char* p = static_cast<const char*>(std::memchr(base, b, text.size())); p;
           p = static_cast<const char*>(std::memchr(p + 1, b, text.size() - (p + 1 - base)))) {
        const size_t pos = static_cast<size_t>(p - base);
        for (uint32_t len : lengths[b]) {
          if (pos + len > text.size()) continue;
          const int32_t prio = index.find(text.substr(pos, len));
          if (prio >= 0) hits.push_back({static_cast<uint32_t>(prio), pos});
        }
        if (p + 1 == base + text.size()) break;
      }
    }
    // Longest tokens first; each token's occurrences left to right.
    std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
      return a.prio < b.prio || (a.prio == b.prio && a.pos < b.pos);
    });
    if (hits.empty()) {
      frags.push_back({kTokenNull, 0, text.size()});
    } else {
      std::vector<uint8_t> claimed(text.size(), 0);  // 1 = token, 2 = stripped whitespace
      std::vector<std::pair<size_t, int32_t>> accepted;  // (position, token id)
      for (const Hit& h : hits) {
        const int32_t id = specials[h.prio];
        const TokenData& t = vocab_.tokens[id];
        const size_t len = t.text.size();
        if (std::any_of(claimed.begin() + h.pos, claimed.begin() + h.pos + len, [](uint8_t c) { return c != 0; })) {
          continue;
        }
        std::fill(claimed.begin() + h.pos, claimed.begin() + h.pos + len, uint8_t{1});
        accepted.push_back({h.pos, id});
        if (t.attr & kAttrLstrip) {
          for (size_t i = h.pos; i > 0 && !claimed[i - 1] && is_ascii_space(text[i - 1]); --i) claimed[i - 1] = 2;
        }
        if (t.attr & kAttrRstrip) {
          for (size_t i = h.pos + len; i < text.size() && !claimed[i] && is_ascii_space(text[i]); ++i) claimed[i] = 2;
        }
      }
      std::sort(accepted.begin(), accepted.end());
      size_t pos = 0;
      size_t next_tok = 0;
      while (pos < text.size()) {
        if (next_tok < accepted.size() && accepted[next_tok].first == pos) {
          const int32_t id = accepted[next_tok++].second;
          frags.push_back({id, pos, pos + vocab_.tokens[id].text.size()});
          pos += vocab_.tokens[id].text.size();
        } else if (claimed[pos] == 2) {
          ++pos;
        } else {
          size_t end = pos;
          while (end < text.size() && claimed[end] == 0) ++end;
          frags.push_back({kTokenNull, pos, end});
          pos = end;
        }
      }
    }
  }

  // 2. Encode the text fragments.
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && vocab_.add_bos && vocab_.bos_id != kTokenNull) out.push_back(vocab_.bos_id);
  bool prev_special = true;  // SentencePiece: a fragment after a token (or at the start) gets " "
  std::string buf;
  for (const Fragment& f : frags) {
    if (f.token != kTokenNull) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    const std::string_view piece = text.substr(f.begin, f.end - f.begin);
    if (spm_) {
      if (vocab_.add_space_prefix && prev_special) {
        buf.clear();
        buf += ' ';
        buf += piece;
        spm_->encode(buf, out);
      } else {
        spm_->encode(piece, out);
      }
    } else {
      bpe_->encode(piece, out);
    }
    prev_special = false;
  }
  if (add_special && vocab_.add_eos && vocab_.eos_id != kTokenNull) out.push_back(vocab_.eos_id);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool special) const {
  if (id < 0 || id >= n_vocab()) return {};
  if (!special && (vocab_.tokens[id].attr & (kAttrUnknown | kAttrControl))) return {};
  return pieces_[id];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool special) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= n_vocab()) continue;
    if (!special && (vocab_.tokens[id].attr & (kAttrUnknown | kAttrControl))) continue;
    out += pieces_[id];
  }
  return out;
}

std::string Tokenizer::detokenize(const std::vector<int32_t>& ids, bool special) const {
  std::string out;
  bool strip = vocab_.type == VocabType::kSpm && vocab_.add_space_prefix;
  for (int32_t id : ids) {
    if (id < 0 || id >= n_vocab()) continue;
    const bool ctrl = vocab_.tokens[id].attr & (kAttrUnknown | kAttrControl);
    if (ctrl && !special) continue;
    std::string_view p = pieces_[id];
    if (strip && !ctrl) {
      if (!p.empty() && p[0] == ' ') p.remove_prefix(1);
      strip = false;
    }
    out += p;
  }
  return out;
}

// ---------------------------------------------------------------------------

std::string StreamDecoder::push(int32_t id) {
  pending_ += tok_.token_to_piece(id, special_);
  const size_t hold = utf8::incomplete_tail(pending_);
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace moerun
