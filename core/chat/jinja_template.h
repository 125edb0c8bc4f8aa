// moerun::jinja::Template: a small Jinja2 interpreter for the chat templates
// that models ship in `tokenizer.chat_template`, rendering byte-for-byte as
// Hugging Face transformers does (jinja2 ImmutableSandboxedEnvironment with
// trim_blocks=True, lstrip_blocks=True, loop controls, HF's `tojson`).
// Owns: the public parse-once / render-many API. Does not own: chat messages,
// BOS/EOS or HF's extra globals (core/chat/chat_template).
//
// Covered subset (anything else is an Error naming the template line):
//   Syntax     {{ expr }}, {% stmt %}, {# comment #}; `-`/`+` whitespace
//              markers; trim_blocks, lstrip_blocks; \r\n normalised and one
//              trailing newline dropped, as jinja2 does.
//   Statements if/elif/else; for x in xs [if cond] with else, tuple targets
//              (`for k, v in d.items()`), loop.index/index0/revindex/
//              revindex0/first/last/length/previtem/nextitem/cycle();
//              break/continue; set x = e, set a, b = e, set ns.attr = e,
//              {% set x %}...{% endset %}; macro (positional, keyword and
//              default parameters). Scoping as jinja2: a for iteration and a
//              macro call get a fresh scope, if does not.
//   Literals   strings ('..', "..", Python escapes, adjacent ones joined),
//              ints, floats, true/false/none (any case), lists, tuples, dicts.
//   Operators  + - * / // % ** ~, == != < <= > >= (chained), in, not in,
//              and/or/not (returning operands, short-circuit), x if c else y,
//              .attr, [index], [a:b:c] slices (Python semantics, by code point).
//   Filters    tojson(indent, separators, sort_keys, ensure_ascii) as HF's
//              json.dumps, trim, length/count, upper, lower, capitalize,
//              string, safe, default/d, first, last, join, replace, items,
//              list, reverse, sort, unique, abs, int, float, indent, map,
//              select, reject, selectattr, rejectattr, min, max.
//   Tests      defined, undefined, none, boolean, true, false, integer, float,
//              number, string, mapping, iterable, sequence, callable, sameas,
//              eq/equalto/==, ne, lt, le, gt, ge, in, odd, even, divisibleby,
//              lower, upper.
//   Methods    str: startswith, endswith, split, strip, lstrip, rstrip, upper,
//              lower, capitalize, replace, find, count, join, isdigit, isspace.
//              dict: get, items, keys, values.
//   Globals    range, namespace, dict (+ whatever the caller puts in the
//              context, e.g. raise_exception and strftime_now).
// Not covered: include/import/extends/block, call blocks, filter blocks, raw,
// recursive loops, *args/**kwargs, `%` string formatting, dicts with non-string
// keys, ints beyond 64 bits (an Error), autoescaping (HF does not use it).
// Undefined behaves as jinja2's default Undefined: prints as "", is false,
// iterates as empty; attribute access or arithmetic on it is an Error.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/chat/jinja_ast.h"
#include "core/chat/jinja_eval.h"
#include "core/chat/jinja_value.h"

namespace moerun::jinja {

class Template {
 public:
  // Parses `source`; `name` appears in every error message. Throws
  // moerun::Error ("template NAME line N: ...") on a syntax error or an
  // unsupported construct.
  Template(std::string_view source, std::string name);

  // Renders with `context` as the variables. Throws TemplateError (a bad
  // operation, with the line) or TemplateRaised (the template's own
  // raise_exception), both moerun::Error.
  std::string render(const Dict& context) const;

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::shared_ptr<const Body> body_;  // shared: Template is cheap to copy
};

}  // namespace moerun::jinja
