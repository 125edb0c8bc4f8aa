#include "core/text/tokenizer_bpe.h"

#include <algorithm>

#include "core/text/unicode.h"
#include "core/text/utf8.h"

namespace moerun {

namespace {

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Symbol {
  int32_t prev;
  int32_t next;
  int32_t id;    // interned id of the symbol's text, kTokenNull if unknown
  uint32_t off;  // byte offset into the encoded word
  uint32_t n;    // byte length; 0 once merged away
};

struct Bigram {
  int32_t rank;
  int32_t left;
  int32_t right;
  int32_t left_id;  // ids at queue time, to detect stale entries
  int32_t right_id;
};

// Lowest rank first; equal ranks: leftmost first (llama.cpp's order).
struct BigramGreater {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

// Words longer than this are not cached (rare, and would bloat the cache).
constexpr size_t kMaxCachedWord = 64;

PreTokenizerSpec spec_for(const Vocab& v) {
  PreTokenizerSpec s = pre_tokenizer_spec(v.pre);
  if (!v.pre_regexes.empty()) s.regexes = v.pre_regexes;
  return s;
}

}  // namespace

// Transparent hashing so the cache can be probed with the raw word's
// string_view without building a std::string.
struct ViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct BpeEncoder::Scratch {
  std::string encoded;
  std::vector<Symbol> syms;
  std::vector<Bigram> heap;
  // raw word -> range in cache_ids
  std::unordered_map<std::string, std::pair<uint32_t, uint32_t>, ViewHash, std::equal_to<>> cache;
  std::vector<int32_t> cache_ids;
};

namespace {
uint64_t slot_of(uint64_t key, uint64_t mask) {
  // Fibonacci hashing: ids are small and dense, the multiply spreads them.
  return (key * 0x9E3779B97F4A7C15ull >> 20) & mask;
}
}  // namespace

void BpeEncoder::MergeTable::init(size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;  // load factor <= 0.5
  keys.assign(cap, kEmpty);
  values.assign(cap, Merge{0, 0});
  mask = cap - 1;
}

bool BpeEncoder::MergeTable::insert(uint64_t key, Merge m) {
  for (uint64_t i = slot_of(key, mask);; i = (i + 1) & mask) {
    if (keys[i] == key) return false;
    if (keys[i] == kEmpty) {
      keys[i] = key;
      values[i] = m;
      return true;
    }
  }
}

const BpeEncoder::Merge* BpeEncoder::MergeTable::find(uint64_t key) const {
  for (uint64_t i = slot_of(key, mask);; i = (i + 1) & mask) {
    if (keys[i] == key) return &values[i];
    if (keys[i] == kEmpty) return nullptr;
  }
}

BpeEncoder::BpeEncoder(const Vocab& vocab) : vocab_(vocab), pre_(spec_for(vocab)) {
  merges_.init(vocab.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < vocab.merges.size(); ++rank) {
    const auto& [a, b] = vocab.merges[rank];
    if (a.empty() || b.empty()) continue;
    joined.assign(a).append(b);
    const int32_t ia = intern(a);
    const int32_t ib = intern(b);
    const int32_t ir = intern(joined);
    // The first (lowest) rank of a duplicated pair wins.
    merges_.insert(pair_key(ia, ib), Merge{static_cast<int32_t>(rank), ir});
  }
  for (int b = 0; b < 256; ++b) byte_sym_[b] = lookup(byte_to_unicode(static_cast<uint8_t>(b)));
  newline_words_whole_ = std::string_view(pre_tokenizer_spec(vocab.pre).family) == "gemma4";
}

int32_t BpeEncoder::lookup(std::string_view s) const {
  const int32_t id = vocab_.find(s);
  if (id != kTokenNull) return id;
  return extra_ids_.find(s);
}

int32_t BpeEncoder::intern(const std::string& s) {
  const int32_t id = lookup(s);
  if (id != kTokenNull) return id;
  extra_strings_.push_back(s);
  const int32_t nid = vocab_.n_tokens() + static_cast<int32_t>(extra_strings_.size()) - 1;
  bool inserted = false;
  extra_ids_.slot(extra_strings_.back(), inserted) = nid;
  return nid;
}

void BpeEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
  std::string escaped;
  if (vocab_.escape_whitespace) {
    for (char c : text) {
      if (c == ' ') {
        escaped += "\xE2\x96\x81";
      } else {
        escaped += c;
      }
    }
    text = escaped;
  }
  Scratch scratch;
  for (const TextSpan& w : pre_.split(text)) {
    encode_word(text.substr(w.begin, w.end - w.begin), out, scratch);
  }
}

void BpeEncoder::encode_word(std::string_view raw, std::vector<int32_t>& out, Scratch& sc) const {
  const bool cacheable = raw.size() <= kMaxCachedWord;
  if (cacheable) {
    auto it = sc.cache.find(raw);
    if (it != sc.cache.end()) {
      out.insert(out.end(), sc.cache_ids.begin() + it->second.first, sc.cache_ids.begin() + it->second.second);
      return;
    }
  }
  std::string& word = sc.encoded;
  word.clear();
  if (vocab_.byte_encode) {
    byte_encode_append(raw, word);
  } else {
    word.assign(raw);
  }
  const size_t out_begin = out.size();

  const bool all_newlines = newline_words_whole_ && word.find_first_not_of('\n') == std::string::npos;
  const int32_t whole = (vocab_.ignore_merges || all_newlines) ? vocab_.find(word) : kTokenNull;
  if (whole != kTokenNull) {
    out.push_back(whole);
  } else {
    auto& syms = sc.syms;
    syms.clear();
    if (vocab_.byte_encode) {
      // One symbol per input byte; its stand-in is 1 or 2 bytes of `word`.
      uint32_t off = 0;
      for (size_t i = 0; i < raw.size(); ++i) {
        const auto b = static_cast<uint8_t>(raw[i]);
        const auto n = static_cast<uint32_t>(byte_to_unicode(b).size());
        const int32_t idx = static_cast<int32_t>(i);
        syms.push_back({idx - 1, i + 1 == raw.size() ? -1 : idx + 1, byte_sym_[b], off, n});
        off += n;
      }
    } else {
      uint32_t cp = 0;
      for (size_t pos = 0; pos < word.size();) {
        int n = utf8::decode(word, pos, cp);
        if (n == 0) n = 1;
        const int32_t idx = static_cast<int32_t>(syms.size());
        syms.push_back({idx - 1, pos + n == word.size() ? -1 : idx + 1,
                        lookup(std::string_view(word).substr(pos, n)), static_cast<uint32_t>(pos),
                        static_cast<uint32_t>(n)});
        pos += n;
      }
    }

    auto& heap = sc.heap;
    heap.clear();
    auto try_add = [&](int32_t l, int32_t r) {
      if (l < 0 || r < 0) return;
      const int32_t a = syms[l].id, b = syms[r].id;
      if (a == kTokenNull || b == kTokenNull) return;
      const Merge* m = merges_.find(pair_key(a, b));
      if (!m) return;
      heap.push_back({m->rank, l, r, a, b});
      std::push_heap(heap.begin(), heap.end(), BigramGreater{});
    };
    for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_add(i - 1, i);

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), BigramGreater{});
      const Bigram bg = heap.back();
      heap.pop_back();
      Symbol& l = syms[bg.left];
      Symbol& r = syms[bg.right];
      // Stale: a side was merged away or changed since this pair was queued.
      if (l.n == 0 || r.n == 0 || l.id != bg.left_id || r.id != bg.right_id || l.next != bg.right) continue;
      l.id = merges_.find(pair_key(bg.left_id, bg.right_id))->result;
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) syms[r.next].prev = bg.left;
      try_add(l.prev, bg.left);
      try_add(bg.left, l.next);
    }

    const int32_t n_vocab = vocab_.n_tokens();
    for (int32_t i = 0; i != -1 && !syms.empty(); i = syms[i].next) {
      const Symbol& s = syms[i];
      if (s.id != kTokenNull && s.id < n_vocab) {
        out.push_back(s.id);
        continue;
      }
      // Not a vocabulary token (a merge result missing from the vocabulary,
      // or a character no merge knows). llama.cpp falls back to one token
      // per byte of the symbol's text and drops bytes that have none, which
      // loses every non-ASCII stand-in; we fall back per character (each
      // stand-in is one input byte) and then per <0xXX>/raw byte, so only
      // bytes the vocabulary cannot express at all are dropped.
      const std::string_view piece(word.data() + s.off, s.n);
      uint32_t cp = 0;
      for (size_t pos = 0; pos < piece.size();) {
        int n = utf8::decode(piece, pos, cp);
        if (n == 0) n = 1;
        const int32_t id = vocab_.find(piece.substr(pos, n));
        if (id != kTokenNull) {
          out.push_back(id);
        } else {
          for (int k = 0; k < n; ++k) {
            const auto c = static_cast<unsigned char>(piece[pos + k]);
            const int32_t bid = vocab_.byte_encode ? vocab_.find(std::string_view(piece.data() + pos + k, 1))
                                                   : vocab_.byte_to_id[c];
            if (bid != kTokenNull) out.push_back(bid);
          }
        }
        pos += n;
      }
    }
  }

  if (cacheable) {
    const auto b = static_cast<uint32_t>(sc.cache_ids.size());
    sc.cache_ids.insert(sc.cache_ids.end(), out.begin() + out_begin, out.end());
    sc.cache.emplace(std::string(raw), std::make_pair(b, static_cast<uint32_t>(sc.cache_ids.size())));
  }
}

}  // namespace moerun
