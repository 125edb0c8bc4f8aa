// Jinja lexer: template source -> a flat token stream for the parser.
// Owns: splitting data from `{{ }}` / `{% %}` / `{# #}`, every whitespace rule
// jinja2 applies (newline normalisation, dropping one trailing newline,
// `-`/`+` markers, trim_blocks and lstrip_blocks exactly as jinja2's lexer.py
// does them), and the expression tokens inside tags. Does not own: grammar.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace moerun::jinja {

enum class TokenKind {
  kText,        // template data, already whitespace-processed
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,        // identifier or keyword (if, in, not, true...)
  kString,      // string literal, escapes decoded
  kInt,
  kFloat,
  kOperator,    // + - * / // % ** ~ == != < <= > >= = . , : | ( ) [ ] { }
  kEnd,         // end of template
};

struct Token {
  TokenKind kind;
  std::string text;  // data, name, decoded string, number text, or operator
  int line;
};

struct LexOptions {
  bool trim_blocks = true;    // what Hugging Face transformers sets
  bool lstrip_blocks = true;  // ditto
};

// Throws moerun::Error "template NAME line N: ..." on an unterminated tag,
// string or comment, or a character that starts no token.
std::vector<Token> lex(std::string_view source, const std::string& name, const LexOptions& options = {});

}  // namespace moerun::jinja
