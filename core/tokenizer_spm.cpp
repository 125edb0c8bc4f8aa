#include "core/tokenizer_spm.h"

#include <queue>
#include <string>

#include "core/utf8.h"

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

}  // namespace

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
