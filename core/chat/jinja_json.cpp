// json.dumps-compatible serializer and a small JSON parser for jinja::Value.
#include "core/chat/jinja_json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace moerun::jinja {
namespace {

void dump_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  std::u32string cps = utf8_to_u32(s);
  for (char32_t c : cps) {
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    char buf[16];
    if (c < 0x20 || (ensure_ascii && c >= 0x7f)) {
      if (c >= 0x10000) {  // json.dumps writes a surrogate pair
        char32_t v = c - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xd800 + (v >> 10)),
                      static_cast<unsigned>(0xdc00 + (v & 0x3ff)));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      }
      out += buf;
    } else {
      out += u32_to_utf8(std::u32string_view(&c, 1));
    }
  }
  out += '"';
}

void dump(std::string& out, const Value& v, const JsonDumpOptions& o, int depth) {
  auto newline = [&](int d) {
    if (!o.indent) return;
    out += '\n';
    for (int i = 0; i < d; ++i) out += *o.indent;
  };
  switch (v.kind()) {
    case Value::Kind::kNone: out += "null"; return;
    case Value::Kind::kBool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::kInt: out += std::to_string(v.as_int()); return;
    case Value::Kind::kFloat: {
      double d = v.as_double();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d > 0 ? "Infinity" : "-Infinity";
      else out += format_python_float(d);
      return;
    }
    case Value::Kind::kString: dump_string(out, v.as_string(), o.ensure_ascii); return;
    case Value::Kind::kArray: {
      const auto& items = v.as_array().items;
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += o.item_separator;
        newline(depth + 1);
        dump(out, items[i], o, depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Value::Kind::kDict:
    case Value::Kind::kNamespace: {
      // A namespace is not JSON-serializable in Python either.
      if (v.is_namespace()) fail("Object of type Namespace is not JSON serializable");
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.as_dict().items) items.push_back(&kv);
      if (items.empty()) {
        out += "{}";
        return;
      }
      if (o.sort_keys)
        std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += o.item_separator;
        newline(depth + 1);
        dump_string(out, items[i]->first, o.ensure_ascii);
        out += o.key_separator;
        dump(out, items[i]->second, o, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
    }
    case Value::Kind::kUndefined:
    case Value::Kind::kCallable: fail("Object of type " + v.type_name() + " is not JSON serializable");
  }
}

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}

  Value parse_document() {
    Value v = parse_value();
    skip_ws();
    if (pos_ != t_.size()) error("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void error(const std::string& what) {
    fail("JSON parse error at byte " + std::to_string(pos_) + ": " + what);
  }
  void skip_ws() {
    while (pos_ < t_.size() && (t_[pos_] == ' ' || t_[pos_] == '\n' || t_[pos_] == '\r' || t_[pos_] == '\t')) ++pos_;
  }
  bool eat(char c) {
    skip_ws();
    if (pos_ < t_.size() && t_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) error(std::string("expected '") + c + "'");
  }
  bool eat_word(std::string_view w) {
    if (t_.substr(pos_, w.size()) == w) {
      pos_ += w.size();
      return true;
    }
    return false;
  }

  Value parse_value() {
    if (++depth_ > 512) error("nesting too deep");
    skip_ws();
    if (pos_ >= t_.size()) error("unexpected end of input");
    Value v;
    char c = t_[pos_];
    if (c == '{') v = parse_object();
    else if (c == '[') v = parse_array();
    else if (c == '"') v = Value(parse_string());
    else if (eat_word("true")) v = Value(true);
    else if (eat_word("false")) v = Value(false);
    else if (eat_word("null")) v = Value(None{});
    else v = parse_number();
    --depth_;
    return v;
  }

  Value parse_object() {
    ++pos_;
    Dict d;
    if (eat('}')) return Value::dict(std::move(d));
    do {
      skip_ws();
      if (pos_ >= t_.size() || t_[pos_] != '"') error("expected a string key");
      std::string key = parse_string();
      expect(':');
      d.set(key, parse_value());
    } while (eat(','));
    expect('}');
    return Value::dict(std::move(d));
  }

  Value parse_array() {
    ++pos_;
    std::vector<Value> items;
    if (eat(']')) return Value::list(std::move(items));
    do {
      items.push_back(parse_value());
    } while (eat(','));
    expect(']');
    return Value::list(std::move(items));
  }

  unsigned hex4() {
    if (pos_ + 4 > t_.size()) error("short \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = t_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<unsigned>(h - 'A' + 10);
      else error("bad hex digit in \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= t_.size()) error("unterminated string");
      char c = t_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= t_.size()) error("unterminated escape");
      char e = t_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          char32_t cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00 && t_.substr(pos_, 2) == "\\u") {
            size_t save = pos_;
            pos_ += 2;
            char32_t lo = hex4();
            if (lo >= 0xdc00 && lo < 0xe000) cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            else pos_ = save;
          }
          out += u32_to_utf8(std::u32string_view(&cp, 1));
          break;
        }
        default: error(std::string("bad escape \\") + e);
      }
    }
  }

  Value parse_number() {
    size_t start = pos_;
    if (pos_ < t_.size() && t_[pos_] == '-') ++pos_;
    bool is_float = false;
    while (pos_ < t_.size()) {
      char c = t_[pos_];
      if (c >= '0' && c <= '9') ++pos_;
      else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
        is_float = true;
        ++pos_;
      } else break;
    }
    std::string num(t_.substr(start, pos_ - start));
    if (num.empty() || num == "-") error("unexpected character");
    char* end = nullptr;
    if (!is_float) {
      errno = 0;
      long long v = std::strtoll(num.c_str(), &end, 10);
      if (errno == 0 && *end == '\0') return Value(static_cast<int64_t>(v));
    }
    double d = std::strtod(num.c_str(), &end);
    if (*end != '\0') error("bad number '" + num + "'");
    return Value(d);
  }

  std::string_view t_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

std::string to_json(const Value& value, const JsonDumpOptions& options) {
  std::string out;
  dump(out, value, options, 0);
  return out;
}

Value parse_json(std::string_view text) { return Parser(text).parse_document(); }

}  // namespace moerun::jinja
