// JSON for the Jinja interpreter: the `tojson` filter, which Hugging Face
// defines as Python's json.dumps (NOT jinja2's own HTML-escaping tojson), and a
// parser that turns JSON text into Values (tools lists, test fixtures).
// Does not own: any other filter.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/chat/jinja_value.h"

namespace moerun::jinja {

struct JsonDumpOptions {
  std::optional<std::string> indent;  // json.dumps(indent=...): None, or the per-level string
  std::string item_separator = ", ";  // json.dumps's defaults: ", " / ": ", or "," with indent
  std::string key_separator = ": ";
  bool ensure_ascii = false;  // HF passes ensure_ascii=False
  bool sort_keys = false;
};

// Byte-exact json.dumps(value, ...). Throws Error for values JSON cannot hold
// (Undefined, functions), as Python raises TypeError.
std::string to_json(const Value& value, const JsonDumpOptions& options = {});

// Parses RFC 8259 JSON; objects keep their key order, integers without '.'
// or exponent become ints. Throws Error naming the byte offset on bad input.
Value parse_json(std::string_view text);

}  // namespace moerun::jinja
