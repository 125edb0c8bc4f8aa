// The jinja2 lexer's rules (jinja2/lexer.py, 3.x), done by hand for the
// default delimiters.
#include "core/chat/jinja_lexer.h"

#include <cstdint>

#include "core/chat/jinja_value.h"
#include "core/error.h"

namespace moerun::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Python's str.rstrip() (all Unicode whitespace), used by the `-` marker.
std::string rstrip_python(std::string_view s) {
  std::u32string cps = utf8_to_u32(s);
  size_t n = cps.size();
  while (n > 0 && is_python_space(cps[n - 1])) --n;
  return u32_to_utf8(std::u32string_view(cps).substr(0, n));
}

// Python's regex \s over a str: Unicode whitespace.
bool all_python_space(std::string_view s) {
  for (char32_t c : utf8_to_u32(s))
    if (!is_python_space(c)) return false;
  return true;
}

int count_newlines(std::string_view s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

void append_utf8(std::string& out, uint32_t cp) {
  char32_t c = cp;
  out += u32_to_utf8(std::u32string_view(&c, 1));
}

class Lexer {
 public:
  Lexer(std::string_view source, const std::string& name, const LexOptions& options)
      : name_(name), options_(options) {
    // jinja2 normalises \r\n and \r to \n, then drops one trailing newline
    // (keep_trailing_newline=False).
    src_.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        src_ += '\n';
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      } else {
        src_ += source[i];
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
  }

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      size_t open = find_open(pos_);
      if (open == std::string::npos) {
        emit_text(src_.substr(pos_));
        line_ += count_newlines(std::string_view(src_).substr(pos_));
        pos_ = src_.size();
        break;
      }
      char kind = src_[open + 1];  // '{', '%' or '#'
      char sign = open + 2 < src_.size() ? src_[open + 2] : '\0';
      if (sign != '-' && sign != '+') sign = '\0';
      std::string text = src_.substr(pos_, open - pos_);
      int text_newlines = count_newlines(text);
      if (sign == '-') {
        text = rstrip_python(text);
      } else if (sign != '+' && options_.lstrip_blocks && kind != '{') {
        // lstrip_blocks: drop the whitespace between the line start and a
        // block/comment tag, if that is all there is on the line so far.
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if ((l_pos > 0 || line_starting_) && l_pos < text.size() &&
            all_python_space(std::string_view(text).substr(l_pos)))
          text.resize(l_pos);
      }
      emit_text(text);
      line_ += text_newlines;
      pos_ = open + 2 + (sign ? 1 : 0);
      if (kind == '#') lex_comment();
      else lex_tag(kind == '{');
    }
    tokens_.push_back({TokenKind::kEnd, "", line_});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void error(const std::string& what) {
    fail("template " + name_ + " line " + std::to_string(line_) + ": " + what);
  }

  size_t find_open(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  void emit_text(const std::string& text) {
    if (!text.empty()) tokens_.push_back({TokenKind::kText, text, line_});
  }

  // After a closing delimiter: `-` eats all following whitespace, `+` nothing,
  // plain eats one newline when trim_blocks applies to this tag kind.
  void close_tag(char sign, bool trim_newline) {
    size_t start = pos_;
    if (sign == '-') {
      while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
    } else if (sign == '\0' && trim_newline && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
    }
    line_ += count_newlines(std::string_view(src_).substr(start, pos_ - start));
    // jinja2: line_starting = the whole match (delimiter + eaten space) ends in "\n".
    line_starting_ = pos_ > start && src_[pos_ - 1] == '\n';
  }

  void lex_comment() {
    size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) error("missing end of comment tag");
    char sign = end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : '\0';
    line_ += count_newlines(std::string_view(src_).substr(pos_, end - pos_));
    pos_ = end + 2;
    close_tag(sign, options_.trim_blocks);
  }

  void lex_tag(bool is_var) {
    tokens_.push_back({is_var ? TokenKind::kVarBegin : TokenKind::kBlockBegin, "", line_});
    std::string balance;  // closing brackets still expected, innermost last
    while (true) {
      while (pos_ < src_.size() && is_space(src_[pos_])) {
        line_ += src_[pos_] == '\n';
        ++pos_;
      }
      if (pos_ >= src_.size()) error(is_var ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'");
      std::string_view rest = std::string_view(src_).substr(pos_);
      if (balance.empty()) {
        std::string_view close = is_var ? "}}" : "%}";
        char sign = '\0';
        size_t skip = 0;
        if (rest.substr(0, 3) == std::string("-") + std::string(close)) sign = '-', skip = 3;
        else if (!is_var && rest.substr(0, 3) == "+%}") sign = '+', skip = 3;
        else if (rest.substr(0, 2) == close) skip = 2;
        if (skip) {
          tokens_.push_back({is_var ? TokenKind::kVarEnd : TokenKind::kBlockEnd, "", line_});
          pos_ += skip;
          // trim_blocks applies to block tags only, never to {{ }}.
          close_tag(sign, !is_var && options_.trim_blocks);
          return;
        }
      }
      lex_expression_token(balance);
    }
  }

  void lex_expression_token(std::string& balance) {
    char c = src_[pos_];
    if (is_ident_start(c)) {
      size_t start = pos_;
      while (pos_ < src_.size() && (is_ident_start(src_[pos_]) || is_digit(src_[pos_]))) ++pos_;
      tokens_.push_back({TokenKind::kName, src_.substr(start, pos_ - start), line_});
      return;
    }
    if (is_digit(c)) {
      lex_number();
      return;
    }
    if (c == '\'' || c == '"') {
      lex_string(c);
      return;
    }
    static const char* kTwoChar[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char* op : kTwoChar) {
      if (src_.compare(pos_, 2, op) == 0) {
        tokens_.push_back({TokenKind::kOperator, op, line_});
        pos_ += 2;
        return;
      }
    }
    static const std::string kOneChar = "+-*/%~<>=.,:|()[]{}";
    if (kOneChar.find(c) == std::string::npos) error(std::string("unexpected character '") + c + "'");
    if (c == '(' || c == '[' || c == '{') {
      balance += c == '(' ? ')' : c == '[' ? ']' : '}';
    } else if (c == ')' || c == ']' || c == '}') {
      if (balance.empty()) error(std::string("unexpected '") + c + "'");
      if (balance.back() != c) error(std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
      balance.pop_back();
    }
    tokens_.push_back({TokenKind::kOperator, std::string(1, c), line_});
    ++pos_;
  }

  void lex_number() {
    size_t start = pos_;
    auto digits = [&] {
      while (pos_ < src_.size() && (is_digit(src_[pos_]) || (src_[pos_] == '_' && pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1])))) ++pos_;
    };
    digits();
    bool is_float = false;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      is_float = true;
      ++pos_;
      digits();
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t save = pos_++;
      if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-')) ++pos_;
      if (pos_ < src_.size() && is_digit(src_[pos_])) {
        is_float = true;
        digits();
      } else {
        pos_ = save;
      }
    }
    std::string text;
    for (size_t i = start; i < pos_; ++i)
      if (src_[i] != '_') text += src_[i];
    tokens_.push_back({is_float ? TokenKind::kFloat : TokenKind::kInt, text, line_});
  }

  // Python string-literal escapes, as jinja2 decodes them ("unicode-escape");
  // an unknown escape keeps its backslash, as Python does.
  void lex_string(char quote) {
    int start_line = line_;
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= src_.size()) {
        line_ = start_line;
        error("unterminated string literal");
      }
      char c = src_[pos_++];
      if (c == quote) break;
      if (c == '\n') ++line_;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= src_.size()) continue;
      char e = src_[pos_++];
      auto hex = [&](int n) -> uint32_t {
        uint32_t v = 0;
        for (int i = 0; i < n; ++i) {
          if (pos_ >= src_.size()) error("truncated escape in string literal");
          char h = src_[pos_++];
          v <<= 4;
          if (is_digit(h)) v |= static_cast<uint32_t>(h - '0');
          else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
          else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
          else error("bad hex digit in string escape");
        }
        return v;
      };
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'v': out += '\v'; break;
        case '\n': ++line_; break;  // backslash-newline: a line continuation
        case 'x': append_utf8(out, hex(2)); break;
        case 'u': append_utf8(out, hex(4)); break;
        case 'U': append_utf8(out, hex(8)); break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = static_cast<uint32_t>(e - '0');
            for (int i = 0; i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++i)
              v = v * 8 + static_cast<uint32_t>(src_[pos_++] - '0');
            append_utf8(out, v);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
    tokens_.push_back({TokenKind::kString, out, start_line});
  }

  std::string src_;
  std::string name_;
  LexOptions options_;
  size_t pos_ = 0;
  int line_ = 1;
  bool line_starting_ = true;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex(std::string_view source, const std::string& name, const LexOptions& options) {
  return Lexer(source, name, options).run();
}

}  // namespace moerun::jinja
