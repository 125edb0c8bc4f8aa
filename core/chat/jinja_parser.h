// Jinja parser: tokens -> syntax tree, with jinja2's operator precedence
// (lowest first): `x if c else y`, or, and, not, comparisons/in/not in,
// + -, ~, * / // %, **, unary - +, then postfix . [] () and | filter / is test
// (filters bind tighter than +: `a + b | trim` trims b only, as in jinja2).
// Owns: grammar and "unknown tag/filter/test" errors, which name the line.
// Does not own: evaluation.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/chat/jinja_ast.h"
#include "core/chat/jinja_lexer.h"

namespace moerun::jinja {

// `known_filter`/`known_test` let the parser reject an unknown filter or test
// at parse time (jinja2 does too), so a template fails before it renders.
struct ParseOptions {
  std::function<bool(const std::string&)> known_filter;
  std::function<bool(const std::string&)> known_test;
};

Body parse(const std::vector<Token>& tokens, const std::string& name, const ParseOptions& options);

}  // namespace moerun::jinja
