// Template = lex + parse once, evaluate per render.
#include "core/chat/jinja_template.h"

#include "core/chat/jinja_builtins.h"
#include "core/chat/jinja_lexer.h"
#include "core/chat/jinja_parser.h"

namespace moerun::jinja {

Template::Template(std::string_view source, std::string name) : name_(std::move(name)) {
  std::vector<Token> tokens = lex(source, name_);
  ParseOptions options;
  options.known_filter = has_filter;
  options.known_test = has_test;
  body_ = std::make_shared<const Body>(parse(tokens, name_, options));
}

std::string Template::render(const Dict& context) const { return evaluate(*body_, context, name_); }

}  // namespace moerun::jinja
