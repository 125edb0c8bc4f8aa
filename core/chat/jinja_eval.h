// Jinja evaluator: walks the syntax tree against a context and writes text.
// Owns: scoping (a `for` iteration and a macro call get their own scope,
// `if` does not, as in jinja2), operators, the `loop` object, macros,
// break/continue, and prefixing errors with the template line.
// Does not own: filters/tests/attribute access (jinja_builtins).
#pragma once

#include <string>

#include "core/chat/jinja_ast.h"
#include "core/chat/jinja_value.h"
#include "core/error.h"

namespace moerun::jinja {

// An error already prefixed with "template NAME line N: ".
class TemplateError : public Error {
 public:
  using Error::Error;
};

// The template itself refused its input ({{ raise_exception("...") }}, as HF
// templates do for bad role order). what() is the template's own message.
class TemplateRaised : public Error {
 public:
  TemplateRaised(const std::string& message, int line) : Error(message), line_(line) {}
  int line() const { return line_; }

 private:
  int line_;
};

// Renders `body`; `context` is a dict of variables (messages, bos_token...),
// looked up after the template's own variables and before the built-ins.
std::string evaluate(const Body& body, const Dict& context, const std::string& name);

}  // namespace moerun::jinja
