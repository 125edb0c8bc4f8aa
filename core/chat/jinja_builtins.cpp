// Filters, tests, attribute access and global functions with the semantics of
// jinja2 3.x and Python 3 str/dict methods (see jinja2/filters.py, tests.py).
#include "core/chat/jinja_builtins.h"

#include <utf8proc.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>

#include "core/chat/jinja_json.h"
#include "core/chat/jinja_limits.h"

namespace moerun::jinja {
namespace {

[[noreturn]] void undefined_error(const Value& v) {
  fail(v.undefined_hint().empty() ? std::string("value is undefined") : v.undefined_hint());
}

const Value kNoneValue{None{}};

// By value: callers pass temporaries as the fallback.
Value arg_or(const CallArgs& a, size_t i, std::string_view name, const Value& fallback) {
  const Value* v = a.get(i, name);
  return v ? *v : fallback;
}

const std::string& need_string(const Value& v, const char* what) {
  if (v.is_undefined()) undefined_error(v);
  if (!v.is_string()) fail(std::string(what) + " expects a string, got " + v.type_name());
  return v.as_string();
}

int64_t need_int(const Value& v, const char* what) {
  if (v.is_undefined()) undefined_error(v);
  if (!v.is_int() && !v.is_bool()) fail(std::string(what) + " expects an integer, got " + v.type_name());
  return v.as_int();
}

// ---- Python str helpers (code-point based) ---------------------------------

std::u32string case_map(std::u32string s, bool upper) {
  for (char32_t& c : s) {
    // Simple (1:1) case mapping; Python's full mapping differs only for a few
    // letters such as "ß".upper() == "SS".
    if (c < 0xd800 || c > 0xdfff)
      c = static_cast<char32_t>(upper ? utf8proc_toupper(static_cast<utf8proc_int32_t>(c))
                                      : utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  }
  return s;
}

std::string py_upper(const std::string& s) { return u32_to_utf8(case_map(utf8_to_u32(s), true)); }
std::string py_lower(const std::string& s) { return u32_to_utf8(case_map(utf8_to_u32(s), false)); }

std::string py_capitalize(const std::string& s) {
  std::u32string u = case_map(utf8_to_u32(s), false);
  if (!u.empty()) u[0] = case_map(u.substr(0, 1), true)[0];
  return u32_to_utf8(u);
}

// str.strip/lstrip/rstrip(chars): chars None = whitespace.
std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::u32string u = utf8_to_u32(s);
  std::u32string set;
  bool ws = chars.is_none() || chars.is_undefined();
  if (!ws) set = utf8_to_u32(need_string(chars, "strip"));
  auto strip_it = [&](char32_t c) { return ws ? is_python_space(c) : set.find(c) != std::u32string::npos; };
  size_t b = 0, e = u.size();
  if (left)
    while (b < e && strip_it(u[b])) ++b;
  if (right)
    while (e > b && strip_it(u[e - 1])) --e;
  return u32_to_utf8(std::u32string_view(u).substr(b, e - b));
}

Value py_split(const std::string& s, const Value& sep, int64_t maxsplit) {
  std::vector<Value> parts;
  if (sep.is_none() || sep.is_undefined()) {
    // Runs of whitespace separate; leading/trailing whitespace gives no parts.
    std::u32string u = utf8_to_u32(s);
    size_t i = 0;
    while (i < u.size()) {
      while (i < u.size() && is_python_space(u[i])) ++i;
      if (i >= u.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        size_t e = u.size();
        while (e > i && is_python_space(u[e - 1])) --e;
        parts.emplace_back(u32_to_utf8(std::u32string_view(u).substr(i, e - i)));
        break;
      }
      size_t j = i;
      while (j < u.size() && !is_python_space(u[j])) ++j;
      parts.emplace_back(u32_to_utf8(std::u32string_view(u).substr(i, j - i)));
      i = j;
    }
    return Value::list(std::move(parts));
  }
  const std::string& d = need_string(sep, "split");
  if (d.empty()) fail("empty separator");
  size_t start = 0;
  while (true) {
    size_t at = s.find(d, start);
    if (at == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit)) break;
    parts.emplace_back(s.substr(start, at - start));
    start = at + d.size();
  }
  parts.emplace_back(s.substr(start));
  return Value::list(std::move(parts));
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
  std::string out;
  if (old.empty()) {  // Python inserts `repl` around every character
    std::u32string u = utf8_to_u32(s);
    int64_t n = 0;
    for (size_t i = 0; i <= u.size(); ++i) {
      if (count < 0 || n < count) {
        out += repl;
        ++n;
      }
      if (i < u.size()) out += u32_to_utf8(std::u32string_view(u).substr(i, 1));
      check_text_size(out.size(), "replace()");
    }
    return out;
  }
  size_t start = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    size_t at = s.find(old, start);
    if (at == std::string::npos) break;
    out += s.substr(start, at - start) + repl;
    check_text_size(out.size(), "replace()");
    start = at + old.size();
    ++n;
  }
  return out + s.substr(start);
}

bool py_startswith(const std::string& s, const Value& prefix, bool ends) {
  auto one = [&](const std::string& p) {
    if (p.size() > s.size()) return false;
    return ends ? s.compare(s.size() - p.size(), p.size(), p) == 0 : s.compare(0, p.size(), p) == 0;
  };
  if (prefix.is_array()) {
    for (const Value& p : prefix.as_array().items)
      if (one(need_string(p, "startswith"))) return true;
    return false;
  }
  return one(need_string(prefix, ends ? "endswith" : "startswith"));
}

int64_t py_len(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return 0;
    case Value::Kind::kString: return static_cast<int64_t>(utf8_to_u32(v.as_string()).size());
    case Value::Kind::kArray: return static_cast<int64_t>(v.as_array().items.size());
    case Value::Kind::kDict: return static_cast<int64_t>(v.as_dict().items.size());
    default: fail("object of type '" + v.type_name() + "' has no len()");
  }
}

// ---- methods -----------------------------------------------------------------

Value bound(const std::string& name, std::function<Value(const CallArgs&)> fn) {
  return Value::function(name, std::move(fn));
}

Value string_method(const std::string& s, const std::string& name) {
  if (name == "startswith" || name == "endswith")
    return bound(name, [s, name](const CallArgs& a) {
      const Value* p = a.get(0, "prefix");
      if (!p) fail(name + "() takes at least 1 argument");
      return Value(py_startswith(s, *p, name == "endswith"));
    });
  if (name == "split")
    return bound(name, [s](const CallArgs& a) {
      const Value m = arg_or(a, 1, "maxsplit", Value(-1));
      return py_split(s, arg_or(a, 0, "sep", kNoneValue), need_int(m, "split"));
    });
  if (name == "strip" || name == "lstrip" || name == "rstrip")
    return bound(name, [s, name](const CallArgs& a) {
      return Value(py_strip(s, arg_or(a, 0, "chars", kNoneValue), name != "rstrip", name != "lstrip"));
    });
  if (name == "upper") return bound(name, [s](const CallArgs&) { return Value(py_upper(s)); });
  if (name == "lower") return bound(name, [s](const CallArgs&) { return Value(py_lower(s)); });
  if (name == "capitalize") return bound(name, [s](const CallArgs&) { return Value(py_capitalize(s)); });
  if (name == "replace")
    return bound(name, [s](const CallArgs& a) {
      const Value* o = a.get(0, "old");
      const Value* n = a.get(1, "new");
      if (!o || !n) fail("replace() takes at least 2 arguments");
      return Value(py_replace(s, need_string(*o, "replace"), need_string(*n, "replace"),
                              need_int(arg_or(a, 2, "count", Value(-1)), "replace")));
    });
  if (name == "find" || name == "count")
    return bound(name, [s, name](const CallArgs& a) {
      const Value* p = a.get(0, "sub");
      if (!p) fail(name + "() takes at least 1 argument");
      const std::string& sub = need_string(*p, name.c_str());
      if (name == "find") {
        size_t at = s.find(sub);
        if (at == std::string::npos) return Value(-1);
        return Value(static_cast<int64_t>(utf8_to_u32(s.substr(0, at)).size()));
      }
      if (sub.empty()) return Value(static_cast<int64_t>(utf8_to_u32(s).size() + 1));
      int64_t n = 0;
      for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
      return Value(n);
    });
  if (name == "join")
    return bound(name, [s](const CallArgs& a) {
      const Value* it = a.get(0, "iterable");
      if (!it) fail("join() takes exactly one argument");
      std::string out;
      bool first = true;
      for (const Value& v : iterate(*it)) {
        if (!first) out += s;
        first = false;
        out += need_string(v, "join");
        check_text_size(out.size(), "join()");
      }
      return Value(out);
    });
  if (name == "isdigit" || name == "isspace")
    return bound(name, [s, name](const CallArgs&) {
      std::u32string u = utf8_to_u32(s);
      if (u.empty()) return Value(false);
      for (char32_t c : u) {
        bool ok = name == "isdigit" ? (c >= '0' && c <= '9') : is_python_space(c);
        if (!ok) return Value(false);
      }
      return Value(true);
    });
  return Value::undefined("'str object' has no attribute '" + name + "'");
}

Value dict_method(const Value& d, const std::string& name) {
  if (name == "get")
    return bound(name, [d](const CallArgs& a) {
      const Value* k = a.get(0, "key");
      if (!k) fail("get() takes at least 1 argument");
      const Value* v = k->is_string() ? d.as_dict().find(k->as_string()) : nullptr;
      return v ? *v : arg_or(a, 1, "default", kNoneValue);
    });
  if (name == "items" || name == "keys" || name == "values")
    return bound(name, [d, name](const CallArgs&) {
      std::vector<Value> out;
      for (const auto& [k, v] : d.as_dict().items) {
        if (name == "items") out.push_back(Value::tuple({Value(k), v}));
        else out.push_back(name == "keys" ? Value(k) : v);
      }
      return Value::list(std::move(out));
    });
  return Value();
}

bool is_dict_method(const std::string& n) { return n == "get" || n == "items" || n == "keys" || n == "values"; }

// ---- filters -----------------------------------------------------------------

using FilterFn = std::function<Value(const Value&, const CallArgs&)>;
using TestFn = std::function<bool(const Value&, const CallArgs&)>;

CallArgs shift_args(const CallArgs& a, size_t n) {
  CallArgs out;
  out.line = a.line;
  out.named = a.named;
  for (size_t i = n; i < a.positional.size(); ++i) out.positional.push_back(a.positional[i]);
  return out;
}

// select/reject/selectattr/rejectattr share this: keep items whose (attribute)
// passes the test named by the first argument, or is truthy without one.
Value select_items(const Value& seq, const CallArgs& a, bool by_attr, bool keep_if) {
  std::string attr;
  size_t next = 0;
  if (by_attr) {
    const Value* at = a.get(0, "attribute");
    if (!at) fail("selectattr/rejectattr need an attribute name");
    attr = need_string(*at, "selectattr");
    next = 1;
  }
  std::string test;
  if (next < a.positional.size()) test = need_string(a.positional[next], "select");
  CallArgs test_args = shift_args(a, next + 1);
  test_args.named.clear();
  std::vector<Value> out;
  for (const Value& item : iterate(seq)) {
    Value probe = item;
    if (by_attr) {
      // Dotted paths ("function.name") walk nested attributes as jinja2 does.
      size_t start = 0;
      while (true) {
        size_t dot = attr.find('.', start);
        probe = get_attr(probe, attr.substr(start, dot - start));
        if (dot == std::string::npos) break;
        start = dot + 1;
      }
    }
    bool pass = test.empty() ? probe.truthy() : apply_test(test, probe, test_args);
    if (pass == keep_if) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value attr_path(const Value& item, const std::string& attr) {
  Value v = item;
  size_t start = 0;
  while (true) {
    size_t dot = attr.find('.', start);
    std::string part = attr.substr(start, dot - start);
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    v = numeric ? get_item(v, Value(static_cast<int64_t>(std::stoll(part)))) : get_attr(v, part);
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

// n spaces, as Python's ' ' * n: none for n <= 0; a width past the text
// budget is an error instead of an allocation failure.
std::string spaces(int64_t n, const char* what) {
  if (n <= 0) return {};
  check_text_size(static_cast<uint64_t>(n), what);
  return std::string(static_cast<size_t>(n), ' ');
}

Value do_tojson(const Value& v, const CallArgs& a) {
  // HF's tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
  JsonDumpOptions o;
  o.ensure_ascii = arg_or(a, 0, "ensure_ascii", Value(false)).truthy();
  const Value indent = arg_or(a, 1, "indent", kNoneValue);
  if (indent.is_int()) o.indent = spaces(indent.as_int(), "tojson indent");
  else if (indent.is_string()) o.indent = indent.as_string();
  else if (!indent.is_none() && !indent.is_undefined()) fail("tojson: indent must be an int or a string");
  if (o.indent) o.item_separator = ",";
  const Value seps = arg_or(a, 2, "separators", kNoneValue);
  if (seps.is_array()) {
    if (seps.as_array().items.size() != 2) fail("tojson: separators must be a pair");
    o.item_separator = need_string(seps.as_array().items[0], "tojson separators");
    o.key_separator = need_string(seps.as_array().items[1], "tojson separators");
  }
  o.sort_keys = arg_or(a, 3, "sort_keys", Value(false)).truthy();
  return Value(to_json(v, o));
}

Value do_indent(const Value& v, const CallArgs& a) {
  std::string s = v.str();
  const Value w = arg_or(a, 0, "width", Value(4));
  std::string pad = w.is_string() ? w.as_string() : spaces(need_int(w, "indent"), "indent width");
  bool first = arg_or(a, 1, "first", Value(false)).truthy();
  bool blank = arg_or(a, 2, "blank", Value(false)).truthy();
  std::string out;
  size_t start = 0;
  bool is_first = true;
  while (true) {
    size_t nl = s.find('\n', start);
    std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    bool indent_it = is_first ? first : (blank || !line.empty());
    // jinja2 never indents the empty line after a trailing newline
    if (!is_first && nl == std::string::npos && line.empty()) indent_it = false;
    if (indent_it) out += pad;
    out += line;
    check_text_size(out.size(), "indent's result");
    if (nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
    is_first = false;
  }
  return Value(out);
}

const std::map<std::string, FilterFn>& filters() {
  static const std::map<std::string, FilterFn> k = [] {
    std::map<std::string, FilterFn> f;
    f["tojson"] = do_tojson;
    f["trim"] = [](const Value& v, const CallArgs& a) {
      return Value(py_strip(v.str(), arg_or(a, 0, "chars", kNoneValue), true, true));
    };
    f["length"] = [](const Value& v, const CallArgs&) { return Value(py_len(v)); };
    f["count"] = f["length"];
    f["upper"] = [](const Value& v, const CallArgs&) { return Value(py_upper(v.str())); };
    f["lower"] = [](const Value& v, const CallArgs&) { return Value(py_lower(v.str())); };
    f["capitalize"] = [](const Value& v, const CallArgs&) { return Value(py_capitalize(v.str())); };
    f["string"] = [](const Value& v, const CallArgs&) { return Value(v.str()); };
    f["safe"] = [](const Value& v, const CallArgs&) { return v; };
    f["default"] = [](const Value& v, const CallArgs& a) {
      bool boolean = arg_or(a, 1, "boolean", Value(false)).truthy();
      if (v.is_undefined() || (boolean && !v.truthy())) return arg_or(a, 0, "default_value", Value(""));
      return v;
    };
    f["d"] = f["default"];
    f["first"] = [](const Value& v, const CallArgs&) {
      std::vector<Value> items = iterate(v);
      return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
    };
    f["last"] = [](const Value& v, const CallArgs&) {
      std::vector<Value> items = iterate(v);
      return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
    };
    f["join"] = [](const Value& v, const CallArgs& a) {
      std::string sep = arg_or(a, 0, "d", Value("")).str();
      const Value* attr = a.get(1, "attribute");
      std::string out;
      bool first = true;
      for (const Value& item : iterate(v)) {
        if (!first) out += sep;
        first = false;
        out += (attr ? attr_path(item, attr->str()) : item).str();
        check_text_size(out.size(), "join");
      }
      return Value(out);
    };
    f["replace"] = [](const Value& v, const CallArgs& a) {
      const Value* o = a.get(0, "old");
      const Value* n = a.get(1, "new");
      if (!o || !n) fail("replace needs the old and new strings");
      const Value c = arg_or(a, 2, "count", kNoneValue);
      return Value(py_replace(v.str(), o->str(), n->str(), c.is_none() ? -1 : need_int(c, "replace")));
    };
    f["items"] = [](const Value& v, const CallArgs&) {
      if (v.is_undefined()) return Value::list({});
      if (!v.is_dict()) fail("items filter expects a mapping, got " + v.type_name());
      return dict_method(v, "items").as_callable().fn(CallArgs{});
    };
    f["list"] = [](const Value& v, const CallArgs&) { return Value::list(iterate(v)); };
    f["reverse"] = [](const Value& v, const CallArgs&) {
      if (v.is_string()) {
        std::u32string u = utf8_to_u32(v.as_string());
        std::reverse(u.begin(), u.end());
        return Value(u32_to_utf8(u));
      }
      std::vector<Value> items = iterate(v);
      std::reverse(items.begin(), items.end());
      return Value::list(std::move(items));
    };
    f["sort"] = [](const Value& v, const CallArgs& a) {
      bool rev = arg_or(a, 0, "reverse", Value(false)).truthy();
      bool cs = arg_or(a, 1, "case_sensitive", Value(false)).truthy();
      const Value* attr = a.get(2, "attribute");
      std::vector<Value> items = iterate(v);
      auto key = [&](const Value& x) {
        Value k = attr ? attr_path(x, attr->str()) : x;
        return (!cs && k.is_string()) ? Value(py_lower(k.as_string())) : k;
      };
      std::stable_sort(items.begin(), items.end(),
                       [&](const Value& x, const Value& y) { return rev ? key(y).less(key(x)) : key(x).less(key(y)); });
      return Value::list(std::move(items));
    };
    f["unique"] = [](const Value& v, const CallArgs&) {
      std::vector<Value> out;
      for (const Value& x : iterate(v)) {
        bool seen = std::any_of(out.begin(), out.end(), [&](const Value& y) {
          return x.is_string() && y.is_string() ? py_lower(x.as_string()) == py_lower(y.as_string()) : x.equals(y);
        });
        if (!seen) out.push_back(x);
      }
      return Value::list(std::move(out));
    };
    f["abs"] = [](const Value& v, const CallArgs&) {
      if (v.is_float()) return Value(v.as_double() < 0 ? -v.as_double() : v.as_double());
      int64_t i = need_int(v, "abs");
      return Value(i < 0 ? -i : i);
    };
    f["int"] = [](const Value& v, const CallArgs& a) {
      const Value def = arg_or(a, 0, "default", Value(0));
      if (v.is_int() || v.is_bool()) return Value(v.as_int());
      if (v.is_float()) return Value(static_cast<int64_t>(v.as_double()));
      if (v.is_string()) {
        try {
          size_t used = 0;
          std::string t = py_strip(v.as_string(), kNoneValue, true, true);
          long long x = std::stoll(t, &used, 10);
          if (used == t.size()) return Value(static_cast<int64_t>(x));
          double d = std::stod(t, &used);
          if (used == t.size()) return Value(static_cast<int64_t>(d));
        } catch (const std::exception&) {
        }
      }
      return def;
    };
    f["float"] = [](const Value& v, const CallArgs& a) {
      const Value def = arg_or(a, 0, "default", Value(0.0));
      if (v.is_number()) return Value(v.as_double());
      if (v.is_string()) {
        try {
          size_t used = 0;
          std::string t = py_strip(v.as_string(), kNoneValue, true, true);
          double d = std::stod(t, &used);
          if (used == t.size()) return Value(d);
        } catch (const std::exception&) {
        }
      }
      return def;
    };
    f["indent"] = do_indent;
    f["map"] = [](const Value& v, const CallArgs& a) {
      std::vector<Value> out;
      const Value* attr = nullptr;
      for (const auto& [k, val] : a.named)
        if (k == "attribute") attr = &val;
      if (attr) {
        const Value* def = nullptr;
        for (const auto& [k, val] : a.named)
          if (k == "default") def = &val;
        for (const Value& item : iterate(v)) {
          Value x = attr_path(item, attr->str());
          out.push_back(x.is_undefined() && def ? *def : x);
        }
      } else {
        if (a.positional.empty()) fail("map needs a filter name or attribute=");
        std::string name = need_string(a.positional[0], "map");
        if (!has_filter(name)) fail("no filter named '" + name + "'");
        CallArgs rest = shift_args(a, 1);
        for (const Value& item : iterate(v)) out.push_back(apply_filter(name, item, rest));
      }
      return Value::list(std::move(out));
    };
    f["select"] = [](const Value& v, const CallArgs& a) { return select_items(v, a, false, true); };
    f["reject"] = [](const Value& v, const CallArgs& a) { return select_items(v, a, false, false); };
    f["selectattr"] = [](const Value& v, const CallArgs& a) { return select_items(v, a, true, true); };
    f["rejectattr"] = [](const Value& v, const CallArgs& a) { return select_items(v, a, true, false); };
    f["min"] = [](const Value& v, const CallArgs&) {
      std::vector<Value> items = iterate(v);
      if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
      return *std::min_element(items.begin(), items.end(), [](const Value& x, const Value& y) { return x.less(y); });
    };
    f["max"] = [](const Value& v, const CallArgs&) {
      std::vector<Value> items = iterate(v);
      if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
      return *std::max_element(items.begin(), items.end(), [](const Value& x, const Value& y) { return x.less(y); });
    };
    return f;
  }();
  return k;
}

const std::map<std::string, TestFn>& tests() {
  static const std::map<std::string, TestFn> k = [] {
    std::map<std::string, TestFn> t;
    auto arg0 = [](const CallArgs& a) -> const Value& {
      const Value* v = a.get(0, "other");
      if (!v) fail("this test needs an argument");
      return *v;
    };
    t["defined"] = [](const Value& v, const CallArgs&) { return !v.is_undefined(); };
    t["undefined"] = [](const Value& v, const CallArgs&) { return v.is_undefined(); };
    t["none"] = [](const Value& v, const CallArgs&) { return v.is_none(); };
    t["boolean"] = [](const Value& v, const CallArgs&) { return v.is_bool(); };
    t["true"] = [](const Value& v, const CallArgs&) { return v.is_bool() && v.as_bool(); };
    t["false"] = [](const Value& v, const CallArgs&) { return v.is_bool() && !v.as_bool(); };
    t["integer"] = [](const Value& v, const CallArgs&) { return v.is_int(); };
    t["float"] = [](const Value& v, const CallArgs&) { return v.is_float(); };
    t["number"] = [](const Value& v, const CallArgs&) { return v.is_number(); };
    t["string"] = [](const Value& v, const CallArgs&) { return v.is_string(); };
    t["mapping"] = [](const Value& v, const CallArgs&) { return v.is_dict(); };
    // Python: iter() works on str, list, dict and jinja2's Undefined.
    t["iterable"] = [](const Value& v, const CallArgs&) {
      return v.is_string() || v.is_array() || v.is_dict() || v.is_undefined();
    };
    t["sequence"] = t["iterable"];
    t["callable"] = [](const Value& v, const CallArgs&) { return v.is_callable(); };
    t["sameas"] = [arg0](const Value& v, const CallArgs& a) { return v.same_as(arg0(a)); };
    t["eq"] = [arg0](const Value& v, const CallArgs& a) { return v.equals(arg0(a)); };
    t["equalto"] = t["eq"];
    t["=="] = t["eq"];
    t["ne"] = [arg0](const Value& v, const CallArgs& a) { return !v.equals(arg0(a)); };
    t["!="] = t["ne"];
    t["lt"] = [arg0](const Value& v, const CallArgs& a) { return v.less(arg0(a)); };
    t["lessthan"] = t["lt"];
    t["<"] = t["lt"];
    t["gt"] = [arg0](const Value& v, const CallArgs& a) { return arg0(a).less(v); };
    t["greaterthan"] = t["gt"];
    t[">"] = t["gt"];
    t["le"] = [arg0](const Value& v, const CallArgs& a) { return !arg0(a).less(v); };
    t["<="] = t["le"];
    t["ge"] = [arg0](const Value& v, const CallArgs& a) { return !v.less(arg0(a)); };
    t[">="] = t["ge"];
    t["in"] = [arg0](const Value& v, const CallArgs& a) {
      const Value& seq = arg0(a);
      if (seq.is_string()) return v.is_string() && seq.as_string().find(v.as_string()) != std::string::npos;
      for (const Value& x : iterate(seq))
        if (x.equals(v)) return true;
      return false;
    };
    t["odd"] = [](const Value& v, const CallArgs&) { return need_int(v, "odd") % 2 != 0; };
    t["even"] = [](const Value& v, const CallArgs&) { return need_int(v, "even") % 2 == 0; };
    t["divisibleby"] = [arg0](const Value& v, const CallArgs& a) {
      int64_t d = need_int(arg0(a), "divisibleby");
      if (d == 0) fail("integer division or modulo by zero");
      return need_int(v, "divisibleby") % d == 0;
    };
    t["lower"] = [](const Value& v, const CallArgs&) {
      std::string s = v.str();
      return py_lower(s) == s && py_upper(s) != s;
    };
    t["upper"] = [](const Value& v, const CallArgs&) {
      std::string s = v.str();
      return py_upper(s) == s && py_lower(s) != s;
    };
    return t;
  }();
  return k;
}

}  // namespace

bool has_filter(const std::string& name) { return filters().count(name) != 0; }
bool has_test(const std::string& name) { return tests().count(name) != 0; }

Value apply_filter(const std::string& name, const Value& value, const CallArgs& args) {
  auto it = filters().find(name);
  if (it == filters().end()) fail("unknown filter '" + name + "'");
  return it->second(value, args);
}

bool apply_test(const std::string& name, const Value& value, const CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) fail("unknown test '" + name + "'");
  return it->second(value, args);
}

Value get_attr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined: undefined_error(obj);
    case Value::Kind::kDict: {
      // Python's getattr finds a dict's methods before jinja2 falls back to keys.
      if (is_dict_method(name)) return dict_method(obj, name);
      const Value* v = obj.as_dict().find(name);
      if (v) return *v;
      return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    case Value::Kind::kNamespace: {
      const Value* v = obj.as_namespace().attrs.find(name);
      if (v) return *v;
      return Value::undefined("'Namespace' object has no attribute '" + name + "'");
    }
    case Value::Kind::kString: return string_method(obj.as_string(), name);
    case Value::Kind::kArray:
      if (name == "append" || name == "pop" || name == "insert" || name == "extend" || name == "remove")
        fail("list." + name + "() is not allowed: templates render in an immutable sandbox");
      [[fallthrough]];
    default: return Value::undefined("'" + obj.type_name() + " object' has no attribute '" + name + "'");
  }
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) undefined_error(obj);
  if (obj.is_dict()) {
    if (key.is_string()) {
      const Value* v = obj.as_dict().find(key.as_string());
      if (v) return *v;
      if (is_dict_method(key.as_string())) return dict_method(obj, key.as_string());
    }
    return Value::undefined("'dict object' has no attribute " + key.repr());
  }
  if ((obj.is_array() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    int64_t i = key.as_int();
    if (obj.is_array()) {
      const auto& items = obj.as_array().items;
      int64_t n = static_cast<int64_t>(items.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return Value::undefined(obj.type_name() + " object has no element " + key.repr());
      return items[static_cast<size_t>(i)];
    }
    std::u32string u = utf8_to_u32(obj.as_string());
    int64_t n = static_cast<int64_t>(u.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::undefined("str object has no element " + key.repr());
    return Value(u32_to_utf8(std::u32string_view(u).substr(static_cast<size_t>(i), 1)));
  }
  if (key.is_string()) return get_attr(obj, key.as_string());
  return Value::undefined("'" + obj.type_name() + " object' has no element " + key.repr());
}

Value get_slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  if (obj.is_undefined()) undefined_error(obj);
  auto opt = [](const Value& v, const char* what) -> std::optional<int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    return need_int(v, what);
  };
  std::optional<int64_t> start = opt(start_v, "slice"), stop = opt(stop_v, "slice"), step_o = opt(step_v, "slice");
  int64_t step = step_o.value_or(1);
  if (step == 0) fail("slice step cannot be zero");
  std::u32string u;
  int64_t n;
  if (obj.is_string()) {
    u = utf8_to_u32(obj.as_string());
    n = static_cast<int64_t>(u.size());
  } else if (obj.is_array()) {
    n = static_cast<int64_t>(obj.as_array().items.size());
  } else {
    fail("'" + obj.type_name() + "' object is not subscriptable");
  }
  // CPython's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  int64_t b = adjust(start, step < 0 ? n - 1 : 0);
  int64_t e = adjust(stop, step < 0 ? -1 : n);
  std::vector<size_t> idx;
  for (int64_t i = b; step > 0 ? i < e : i > e; i += step) idx.push_back(static_cast<size_t>(i));
  if (obj.is_string()) {
    std::u32string out;
    for (size_t i : idx) out += u[i];
    return Value(u32_to_utf8(out));
  }
  std::vector<Value> out;
  for (size_t i : idx) out.push_back(obj.as_array().items[i]);
  return obj.as_array().is_tuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return {};
    case Value::Kind::kArray: return v.as_array().items;
    case Value::Kind::kDict: {
      std::vector<Value> keys;
      for (const auto& kv : v.as_dict().items) keys.emplace_back(kv.first);
      return keys;
    }
    case Value::Kind::kString: {
      std::vector<Value> chars;
      for (char32_t c : utf8_to_u32(v.as_string())) chars.emplace_back(u32_to_utf8(std::u32string_view(&c, 1)));
      return chars;
    }
    default: fail("'" + v.type_name() + "' object is not iterable");
  }
}

Dict builtin_globals() {
  Dict g;
  g.set("range", Value::function("range", [](const CallArgs& a) {
          if (a.positional.empty() || a.positional.size() > 3) fail("range expects 1 to 3 integer arguments");
          int64_t start = 0, stop, step = 1;
          if (a.positional.size() == 1) {
            stop = need_int(a.positional[0], "range");
          } else {
            start = need_int(a.positional[0], "range");
            stop = need_int(a.positional[1], "range");
            if (a.positional.size() == 3) step = need_int(a.positional[2], "range");
          }
          if (step == 0) fail("range() arg 3 must not be zero");
          // jinja2's sandbox caps range() at 100000 items (MAX_RANGE).
          std::vector<Value> out;
          for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (out.size() >= 100000) fail("range too big (the sandbox allows 100000 items)");
            out.emplace_back(i);
          }
          return Value::list(std::move(out));
        }));
  auto make_dict = [](const CallArgs& a) {
    Dict d;
    for (const Value& p : a.positional) {
      if (!p.is_dict()) fail("expected a mapping argument, got " + p.type_name());
      for (const auto& [k, v] : p.as_dict().items) d.set(k, v);
    }
    for (const auto& [k, v] : a.named) d.set(k, v);
    return d;
  };
  g.set("namespace", Value::function("namespace", [make_dict](const CallArgs& a) {
          auto ns = std::make_shared<Namespace>();
          ns->attrs = make_dict(a);
          return Value(ns);
        }));
  g.set("dict", Value::function("dict", [make_dict](const CallArgs& a) { return Value::dict(make_dict(a)); }));
  return g;
}

}  // namespace moerun::jinja
