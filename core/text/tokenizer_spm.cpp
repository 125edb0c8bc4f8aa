#include "core/text/tokenizer_spm.h"

#include <queue>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/text/utf8.h"

namespace moerun {

namespace {

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t off;  // byte offset into the escaped text
  uint32_t n;    // byte length; 0 once merged into its left neighbour
};

struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t size;  // byte length of the joined text, to detect stale entries
};

// Highest score first; equal scores: leftmost first (llama.cpp's order).
struct BigramLess {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

}  // namespace

SpmEncoder::SpmEncoder(const Vocab& vocab) : vocab_(vocab) {
  // A merge joins two adjacent symbols into a token containing both, so a
  // boundary "X|U+2581" (X not U+2581) can only be crossed by a token that
  // contains X followed by U+2581.
  split_at_words_ = true;
  for (const TokenData& t : vocab.tokens) {
    for (size_t p = t.text.find(kSpace, 1); p != std::string::npos; p = t.text.find(kSpace, p + 1)) {
      if (p < kSpace.size() || t.text.compare(p - kSpace.size(), kSpace.size(), kSpace) != 0) {
        split_at_words_ = false;
        return;
      }
    }
  }
}

void SpmEncoder::encode(std::string_view raw, std::vector<int32_t>& out) const {
  std::string text;
  if (vocab_.escape_whitespace) {
    text.reserve(raw.size() + raw.size() / 4);
    for (char c : raw) {
      if (c == ' ') {
        text += "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's space
      } else {
        text += c;
      }
    }
  } else {
    text.assign(raw);
  }
  if (text.empty()) return;
  if (!split_at_words_) {
    encode_chunk(text, out);
    return;
  }
  // Cut before every U+2581 that follows another character. Words repeat,
  // so their ids are cached for the rest of this call.
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> cache;  // views into `text`
  std::vector<int32_t> cached_ids;
  auto chunk = [&](std::string_view w) {
    if (w.size() > 64) {
      encode_chunk(w, out);
      return;
    }
    if (auto it = cache.find(w); it != cache.end()) {
      out.insert(out.end(), cached_ids.begin() + it->second.first, cached_ids.begin() + it->second.second);
      return;
    }
    const size_t from = out.size();
    encode_chunk(w, out);
    const auto b = static_cast<uint32_t>(cached_ids.size());
    cached_ids.insert(cached_ids.end(), out.begin() + from, out.end());
    cache.emplace(w, std::make_pair(b, static_cast<uint32_t>(cached_ids.size())));
  };
  const std::string_view all(text);
  size_t begin = 0;
  for (size_t p = all.find(kSpace, 1); p != std::string::npos; p = all.find(kSpace, p + 1)) {
    if (p >= kSpace.size() && all.compare(p - kSpace.size(), kSpace.size(), kSpace) == 0) continue;
    chunk(all.substr(begin, p - begin));
    begin = p;
  }
  chunk(all.substr(begin));
}

void SpmEncoder::encode_chunk(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::vector<Symbol> syms;
  syms.reserve(text.size());
  uint32_t cp = 0;
  for (size_t pos = 0; pos < text.size();) {
    int n = utf8::decode(text, pos, cp);
    if (n == 0) n = 1;  // an invalid byte stands alone
    const int32_t idx = static_cast<int32_t>(syms.size());
    syms.push_back({idx - 1, pos + n == text.size() ? -1 : idx + 1, static_cast<uint32_t>(pos), static_cast<uint32_t>(n)});
    pos += n;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramLess> queue;
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const std::string_view joined(text.data() + syms[l].off, syms[l].n + syms[r].n);
    const int32_t id = vocab_.find(joined);
    if (id == kTokenNull) return;
    queue.push({vocab_.tokens[id].score, l, r, static_cast<uint32_t>(joined.size())});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = syms[b.left];
    Symbol& r = syms[b.right];
    // Stale: one side was merged away or grew since this pair was queued.
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  // Every merged symbol is a vocabulary token by construction, so only
  // single characters can be missing: those become byte tokens (then the
  // unknown token if even the byte token is missing).
  for (int32_t i = 0; i != -1; i = syms[i].next) {
    const Symbol& s = syms[i];
    const std::string_view piece(text.data() + s.off, s.n);
    const int32_t id = vocab_.find(piece);
    if (id != kTokenNull) {
      out.push_back(id);
      continue;
    }
    for (unsigned char c : piece) {
      const int32_t bid = vocab_.byte_to_id[c];
      if (bid != kTokenNull) {
        out.push_back(bid);
      } else if (vocab_.unk_id != kTokenNull) {
        out.push_back(vocab_.unk_id);
      }
    }
  }
}

}  // namespace moerun
