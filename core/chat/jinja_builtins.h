// Jinja built-ins: filters, tests, attribute/item access (incl. the Python
// str and dict methods templates call), and the global functions every
// template sees (range, namespace, dict). Owns their Python/jinja2 semantics.
// Does not own: operators or statements (jinja_eval), HF's chat globals
// raise_exception / strftime_now (chat_template adds them to the context).
#pragma once

#include <string>

#include "core/chat/jinja_value.h"

namespace moerun::jinja {

bool has_filter(const std::string& name);
bool has_test(const std::string& name);

// Errors throw moerun::Error without a line; the evaluator adds it.
Value apply_filter(const std::string& name, const Value& value, const CallArgs& args);
bool apply_test(const std::string& name, const Value& value, const CallArgs& args);

// jinja2's sandboxed getattr (obj.name) and getitem (obj[key]): a dict's keys,
// a namespace's attributes, bound str/dict methods; missing -> Undefined.
// Accessing anything on an Undefined throws its "'x' is undefined" error.
Value get_attr(const Value& object, const std::string& name);
Value get_item(const Value& object, const Value& key);
// Python slicing object[start:stop:step]; each bound may be None/Undefined.
Value get_slice(const Value& object, const Value& start, const Value& stop, const Value& step);

// Python iteration: list/tuple items, a dict's keys, a str's characters,
// nothing for Undefined. Throws for the rest (e.g. None, int).
std::vector<Value> iterate(const Value& value);

// Globals available to every template: range, namespace, dict.
Dict builtin_globals();

}  // namespace moerun::jinja
