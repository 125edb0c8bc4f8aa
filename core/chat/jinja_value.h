// jinja::Value: the dynamically typed value of the Jinja interpreter, with
// Python's semantics (truthiness, ==, <, str(), repr()), because the chat
// templates we run were written for, and tested with, Python's jinja2.
// Owns: the value kinds, their conversions and comparisons, UTF-8 <-> code
// point helpers (Python strings index by code point). Does not own: operators
// (jinja_eval), filters/tests/methods (jinja_builtins), JSON (jinja_json).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.h"

namespace moerun::jinja {

class Value;

// A list, or a tuple (Python prints and compares them differently). Shared and
// never mutated once built: HF renders in jinja2's ImmutableSandboxedEnvironment,
// where list.append() and friends are refused too.
struct Array {
  std::vector<Value> items;
  bool is_tuple = false;
};

// A dict with string keys in insertion order (Python 3.7+ dicts keep order and
// `tojson`/`items()` output depends on it). Linear lookup: chat dicts are tiny.
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value value);
};

// `namespace(...)`: the one mutable object, shared by reference so that
// `{% set ns.x = ... %}` inside a loop is seen after it.
struct Namespace {
  Dict attrs;
};

// Arguments of a call, filter or test, as written at the call site.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> named;
  int line = 0;  // template line of the call, for error messages

  // The argument at `index`, or the one named `name`, or nullptr.
  const Value* get(size_t index, std::string_view name) const;
};

// A built-in function, bound method or macro.
struct Callable {
  std::string name;
  std::function<Value(const CallArgs&)> fn;
};

struct Undefined {
  std::string hint;  // why it is undefined, e.g. "'x' is undefined"
};
struct None {};

class Value {
 public:
  enum class Kind { kUndefined, kNone, kBool, kInt, kFloat, kString, kArray, kDict, kNamespace, kCallable };

  Value() : v_(Undefined{}) {}
  Value(None) : v_(None{}) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<int64_t>(i)) {}
  Value(int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(std::shared_ptr<const Array> a) : v_(std::move(a)) {}
  Value(std::shared_ptr<const Dict> d) : v_(std::move(d)) {}
  Value(std::shared_ptr<Namespace> n) : v_(std::move(n)) {}
  Value(std::shared_ptr<const Callable> c) : v_(std::move(c)) {}

  static Value undefined(std::string hint) { Value v; v.v_ = Undefined{std::move(hint)}; return v; }
  static Value list(std::vector<Value> items);
  static Value tuple(std::vector<Value> items);
  static Value dict(Dict d);
  static Value function(std::string name, std::function<Value(const CallArgs&)> fn);

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::kUndefined; }
  bool is_none() const { return kind() == Kind::kNone; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_float() const { return kind() == Kind::kFloat; }
  // Python's numbers.Number: bool counts, as True is an int in Python.
  bool is_number() const { return is_bool() || is_int() || is_float(); }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_array() const { return kind() == Kind::kArray; }
  bool is_dict() const { return kind() == Kind::kDict; }
  bool is_namespace() const { return kind() == Kind::kNamespace; }
  bool is_callable() const { return kind() == Kind::kCallable; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const;    // int or bool
  double as_double() const;  // any number
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return *std::get<std::shared_ptr<const Array>>(v_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<const Dict>>(v_); }
  Namespace& as_namespace() const { return *std::get<std::shared_ptr<Namespace>>(v_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(v_); }
  const std::string& undefined_hint() const { return std::get<Undefined>(v_).hint; }

  // Python's bool(x); Undefined is false.
  bool truthy() const;
  // Python's str(x) as Jinja prints it: None -> "None", Undefined -> "".
  std::string str() const;
  // Python's repr(x), used for items inside str() of a list or dict.
  std::string repr() const;
  // Python's type name, for error messages ("str", "int", "dict"...).
  std::string type_name() const;
  // Python's ==: 1 == 1.0 == True, list != tuple, dicts compare by content.
  bool equals(const Value& other) const;
  // Python's <; throws on types that have no order (e.g. str < int).
  bool less(const Value& other) const;
  // Identity for mutable/shared objects, equality for immutable scalars
  // (the `sameas` test).
  bool same_as(const Value& other) const;

 private:
  std::variant<Undefined, None, bool, int64_t, double, std::string, std::shared_ptr<const Array>,
               std::shared_ptr<const Dict>, std::shared_ptr<Namespace>, std::shared_ptr<const Callable>>
      v_;
};

// Python's repr of a float: shortest round-trip digits, "1.0", "1e+16", "inf".
std::string format_python_float(double d);
// Python's repr of a str: single quotes unless the text has ' and no ".
std::string python_string_repr(std::string_view s);

// Python strings index by code point; templates slice message text, so these
// convert between UTF-8 and code points. An invalid byte b decodes to the lone
// surrogate U+DC00+b and encodes back to b (Python's "surrogateescape"), so
// slicing text that is not valid UTF-8 never changes its bytes.
std::u32string utf8_to_u32(std::string_view s);
std::string u32_to_utf8(std::u32string_view s);
// Python's str.isspace() for one code point (also \x1c-\x1f, U+00A0, U+3000...).
bool is_python_space(char32_t c);

}  // namespace moerun::jinja
