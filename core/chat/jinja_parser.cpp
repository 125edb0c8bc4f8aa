// Recursive-descent parser following jinja2/parser.py's structure.
#include "core/chat/jinja_parser.h"

#include <charconv>
#include <cstdlib>
#include <set>

#include "core/error.h"

namespace moerun::jinja {
namespace {

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const std::string& name, const ParseOptions& options)
      : toks_(tokens), name_(name), options_(options) {}

  Body parse_template() {
    std::string end;
    Body body = parse_body({}, &end);
    return body;
  }

 private:
  // ---- token helpers -------------------------------------------------------
  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t n = 1) const { return toks_[std::min(pos_ + n, toks_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(const char* op) const { return cur().kind == TokenKind::kOperator && cur().text == op; }
  bool is_name(const char* n) const { return cur().kind == TokenKind::kName && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    advance();
    return true;
  }
  [[noreturn]] void error(const std::string& what, int line = -1) const {
    fail("template " + name_ + " line " + std::to_string(line < 0 ? cur().line : line) + ": " + what);
  }
  std::string describe(const Token& t) const {
    switch (t.kind) {
      case TokenKind::kEnd: return "end of template";
      case TokenKind::kBlockEnd: return "end of statement block";
      case TokenKind::kVarEnd: return "end of print statement";
      case TokenKind::kText: return "template data";
      case TokenKind::kString: return "string literal";
      default: return "'" + t.text + "'";
    }
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) error(std::string("expected '") + op + "', got " + describe(cur()));
  }
  std::string expect_name() {
    if (cur().kind != TokenKind::kName) error("expected a name, got " + describe(cur()));
    std::string n = cur().text;
    advance();
    return n;
  }
  void expect_block_end() {
    if (cur().kind != TokenKind::kBlockEnd) error("expected end of statement block, got " + describe(cur()));
    advance();
  }

  // Nesting guard: a template comes from a model file, so a hostile one with
  // thousands of nested brackets or blocks must fail cleanly, not overflow
  // the stack. 256 is far beyond any real template.
  struct DepthGuard {
    Parser& p;
    explicit DepthGuard(Parser& parser) : p(parser) {
      if (++p.depth_ > kMaxDepth) p.error("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    ~DepthGuard() { --p.depth_; }
  };
  static constexpr int kMaxDepth = 256;

  // ---- statements ----------------------------------------------------------
  // Parses until one of `end_tags` opens a block ({% end_tag ...); leaves the
  // parser just after that tag's name and stores it in *end.
  Body parse_body(const std::set<std::string>& end_tags, std::string* end) {
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.kind == TokenKind::kEnd) {
        if (!end_tags.empty()) {
          std::string want;
          for (const auto& e : end_tags) want += (want.empty() ? "'" : " or '") + e + "'";
          error("unexpected end of template, expected " + want);
        }
        *end = "";
        return body;
      }
      if (t.kind == TokenKind::kText) {
        auto s = std::make_unique<Stmt>(Stmt::Kind::kText, t.line);
        s->text = t.text;
        body.push_back(std::move(s));
        advance();
      } else if (t.kind == TokenKind::kVarBegin) {
        advance();
        auto s = std::make_unique<Stmt>(Stmt::Kind::kOutput, t.line);
        s->expr = parse_tuple_expr();
        if (cur().kind != TokenKind::kVarEnd) error("expected end of print statement, got " + describe(cur()));
        advance();
        body.push_back(std::move(s));
      } else if (t.kind == TokenKind::kBlockBegin) {
        advance();
        if (cur().kind != TokenKind::kName) error("expected a tag name, got " + describe(cur()));
        std::string tag = cur().text;
        if (end_tags.count(tag)) {
          advance();
          *end = tag;
          return body;
        }
        body.push_back(parse_statement());
      } else {
        error("unexpected " + describe(t));
      }
    }
  }

  StmtPtr parse_statement() {
    DepthGuard guard(*this);
    const Token& t = cur();
    int line = t.line;
    std::string tag = t.text;
    advance();
    if (tag == "if") return parse_if(line);
    if (tag == "for") return parse_for(line);
    if (tag == "set") return parse_set(line);
    if (tag == "macro") return parse_macro(line);
    if (tag == "generation") {
      // transformers' AssistantTracker tag: marks assistant text for training
      // masks; for rendering it is transparent.
      expect_block_end();
      auto s = std::make_unique<Stmt>(Stmt::Kind::kIf, line);
      auto yes = make(Expr::Kind::kLiteral, line);
      yes->value = Value(true);
      s->conditions.push_back(std::move(yes));
      std::string end;
      s->bodies.push_back(parse_body({"endgeneration"}, &end));
      expect_block_end();
      return s;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) error("'" + tag + "' outside of a loop", line);
      expect_block_end();
      return std::make_unique<Stmt>(tag == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue, line);
    }
    if (tag.rfind("end", 0) == 0 || tag == "elif" || tag == "else")
      error("unexpected '" + tag + "' (no open block it could close)", line);
    error("unsupported tag '" + tag + "'", line);
  }

  StmtPtr parse_if(int line) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::kIf, line);
    s->conditions.push_back(parse_expression());
    expect_block_end();
    while (true) {
      std::string end;
      s->bodies.push_back(parse_body({"elif", "else", "endif"}, &end));
      if (end == "elif") {
        s->conditions.push_back(parse_expression());
        expect_block_end();
        continue;
      }
      if (end == "else") {
        expect_block_end();
        s->else_body = parse_body({"endif"}, &end);
      }
      expect_block_end();
      return s;
    }
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = skip_op("(");
    do {
      names.push_back(expect_name());
    } while (skip_op(","));
    if (paren) expect_op(")");
    return names;
  }

  StmtPtr parse_for(int line) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::kFor, line);
    s->targets = parse_targets();
    if (!skip_name("in")) error("expected 'in' in for loop, got " + describe(cur()));
    s->expr = parse_tuple_expr(/*with_condexpr=*/false);
    if (skip_name("if")) s->filter = parse_expression();
    if (is_name("recursive")) error("recursive for loops are not supported");
    expect_block_end();
    ++loop_depth_;
    std::string end;
    s->bodies.push_back(parse_body({"else", "endfor"}, &end));
    --loop_depth_;
    if (end == "else") {
      expect_block_end();
      s->else_body = parse_body({"endfor"}, &end);
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_set(int line) {
    std::string first = expect_name();
    if (skip_op(".")) {  // {% set ns.attr = value %}
      auto s = std::make_unique<Stmt>(Stmt::Kind::kSet, line);
      s->targets = {first};
      s->text = expect_name();
      expect_op("=");
      s->expr = parse_tuple_expr();
      expect_block_end();
      return s;
    }
    std::vector<std::string> names = {first};
    while (skip_op(",")) names.push_back(expect_name());
    if (names.size() == 1 && cur().kind == TokenKind::kBlockEnd) {  // {% set x %}...{% endset %}
      advance();
      auto s = std::make_unique<Stmt>(Stmt::Kind::kSetBlock, line);
      s->targets = names;
      std::string end;
      s->bodies.push_back(parse_body({"endset"}, &end));
      expect_block_end();
      return s;
    }
    auto s = std::make_unique<Stmt>(Stmt::Kind::kSet, line);
    s->targets = names;
    expect_op("=");
    s->expr = parse_tuple_expr();
    expect_block_end();
    return s;
  }

  StmtPtr parse_macro(int line) {
    auto s = std::make_unique<Stmt>(Stmt::Kind::kMacro, line);
    s->text = expect_name();
    expect_op("(");
    while (!is_op(")")) {
      if (!s->params.empty()) expect_op(",");
      if (is_op(")")) break;  // trailing comma
      s->params.push_back(expect_name());
      s->defaults.push_back(skip_op("=") ? parse_expression() : nullptr);
    }
    expect_op(")");
    expect_block_end();
    int saved_depth = loop_depth_;
    loop_depth_ = 0;  // a loop outside the macro is not one `break` can leave
    std::string end;
    s->bodies.push_back(parse_body({"endmacro"}, &end));
    loop_depth_ = saved_depth;
    if (cur().kind == TokenKind::kName) advance();  // {% endmacro name %}
    expect_block_end();
    return s;
  }

  // ---- expressions ---------------------------------------------------------
  ExprPtr make(Expr::Kind k, int line) { return std::make_unique<Expr>(k, line); }

  // An expression, or a bare tuple `a, b` (as in `{{ a, b }}` or set values).
  ExprPtr parse_tuple_expr(bool with_condexpr = true) {
    int line = cur().line;
    ExprPtr first = with_condexpr ? parse_expression() : parse_or();
    if (!is_op(",")) return first;
    auto t = make(Expr::Kind::kTuple, line);
    t->items.push_back(std::move(first));
    while (skip_op(",")) {
      if (cur().kind == TokenKind::kBlockEnd || cur().kind == TokenKind::kVarEnd) break;
      t->items.push_back(with_condexpr ? parse_expression() : parse_or());
    }
    return t;
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this);
    int line = cur().line;
    ExprPtr e = parse_or();
    while (skip_name("if")) {
      auto c = make(Expr::Kind::kCondition, line);
      c->items.push_back(parse_or());  // condition
      c->object = std::move(e);        // value if true
      c->right = skip_name("else") ? parse_expression() : nullptr;
      e = std::move(c);
    }
    return e;
  }

  ExprPtr binary(std::string op, ExprPtr l, ExprPtr r, int line) {
    auto b = make(Expr::Kind::kBinary, line);
    b->name = std::move(op);
    b->object = std::move(l);
    b->right = std::move(r);
    return b;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      int line = cur().line;
      advance();
      e = binary("or", std::move(e), parse_and(), line);
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      int line = cur().line;
      advance();
      e = binary("and", std::move(e), parse_not(), line);
    }
    return e;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      auto u = make(Expr::Kind::kUnary, cur().line);
      advance();
      u->name = "not";
      u->object = parse_not();
      return u;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    int line = cur().line;
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (cur().kind == TokenKind::kOperator &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == "<=" ||
           cur().text == ">" || cur().text == ">=")) {
        op = cur().text;
        advance();
      } else if (is_name("in")) {
        op = "in";
        advance();
      } else if (is_name("not") && peek().kind == TokenKind::kName && peek().text == "in") {
        op = "not in";
        advance();
        advance();
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(Expr::Kind::kCompare, line);
        cmp->object = std::move(first);
      }
      cmp->ops.push_back(op);
      cmp->items.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().text;
      int line = cur().line;
      advance();
      e = binary(op, std::move(e), parse_concat(), line);
    }
    return e;
  }

  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      int line = cur().line;
      advance();
      e = binary("~", std::move(e), parse_math2(), line);
    }
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().text;
      int line = cur().line;
      advance();
      e = binary(op, std::move(e), parse_pow(), line);
    }
    return e;
  }

  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
      int line = cur().line;
      advance();
      e = binary("**", std::move(e), parse_unary(true), line);
    }
    return e;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      e = make(Expr::Kind::kUnary, cur().line);
      e->name = cur().text;
      advance();
      e->object = parse_unary(false);
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    int line = t.line;
    switch (t.kind) {
      case TokenKind::kName: {
        auto e = make(Expr::Kind::kLiteral, line);
        if (t.text == "true" || t.text == "True") e->value = Value(true);
        else if (t.text == "false" || t.text == "False") e->value = Value(false);
        else if (t.text == "none" || t.text == "None") e->value = Value(None{});
        else {
          e->kind = Expr::Kind::kName;
          e->name = t.text;
        }
        advance();
        return e;
      }
      case TokenKind::kString: {
        std::string s;
        while (cur().kind == TokenKind::kString) {  // adjacent literals concatenate
          s += cur().text;
          advance();
        }
        auto e = make(Expr::Kind::kLiteral, line);
        e->value = Value(std::move(s));
        return e;
      }
      case TokenKind::kInt: {
        auto e = make(Expr::Kind::kLiteral, line);
        int64_t v = 0;
        auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
        if (r.ec != std::errc()) error("integer literal out of range: " + t.text);
        e->value = Value(v);
        advance();
        return e;
      }
      case TokenKind::kFloat: {
        auto e = make(Expr::Kind::kLiteral, line);
        e->value = Value(std::strtod(t.text.c_str(), nullptr));
        advance();
        return e;
      }
      case TokenKind::kOperator:
        if (t.text == "(") {
          advance();
          if (skip_op(")")) return make(Expr::Kind::kTuple, line);
          ExprPtr first = parse_expression();
          if (skip_op(")")) return first;
          auto tup = make(Expr::Kind::kTuple, line);
          tup->items.push_back(std::move(first));
          while (skip_op(",")) {
            if (is_op(")")) break;
            tup->items.push_back(parse_expression());
          }
          expect_op(")");
          return tup;
        }
        if (t.text == "[") {
          advance();
          auto list = make(Expr::Kind::kList, line);
          while (!is_op("]")) {
            if (!list->items.empty()) expect_op(",");
            if (is_op("]")) break;
            list->items.push_back(parse_expression());
          }
          expect_op("]");
          return list;
        }
        if (t.text == "{") {
          advance();
          auto dict = make(Expr::Kind::kDict, line);
          while (!is_op("}")) {
            if (!dict->items.empty()) expect_op(",");
            if (is_op("}")) break;
            dict->keys.push_back(parse_expression());
            expect_op(":");
            dict->items.push_back(parse_expression());
          }
          expect_op("}");
          return dict;
        }
        break;
      default: break;
    }
    error("unexpected " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      int line = cur().line;
      if (skip_op(".")) {
        if (cur().kind == TokenKind::kInt) {  // x.0 is x[0] in jinja2
          auto g = make(Expr::Kind::kGetItem, line);
          g->object = std::move(e);
          g->items.push_back(parse_primary());
          e = std::move(g);
          continue;
        }
        auto g = make(Expr::Kind::kGetAttr, line);
        g->object = std::move(e);
        g->name = expect_name();
        e = std::move(g);
      } else if (is_op("[")) {
        advance();
        e = parse_subscript(std::move(e), line);
      } else if (is_op("(")) {
        e = parse_call(std::move(e), line);
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj, int line) {
    ExprPtr parts[3];
    int n = 0;
    bool is_slice = false;
    while (true) {
      if (is_op(":")) {
        is_slice = true;
        advance();
        if (++n > 2) error("too many ':' in slice");
        continue;
      }
      if (is_op("]")) break;
      if (parts[n]) error("expected ']' or ':', got " + describe(cur()));
      parts[n] = parse_expression();
    }
    expect_op("]");
    if (!is_slice) {
      if (!parts[0]) error("empty subscript", line);
      auto g = make(Expr::Kind::kGetItem, line);
      g->object = std::move(obj);
      g->items.push_back(std::move(parts[0]));
      return g;
    }
    auto s = make(Expr::Kind::kSlice, line);
    s->object = std::move(obj);
    for (auto& p : parts) s->items.push_back(std::move(p));
    return s;
  }

  // Fills e->items (positional) and e->named from `( ... )`.
  void parse_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (!e.items.empty() || !e.named.empty()) expect_op(",");
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) error("*args / **kwargs in calls are not supported");
      if (cur().kind == TokenKind::kName && peek().kind == TokenKind::kOperator && peek().text == "=") {
        std::string key = cur().text;
        advance();
        advance();
        e.named.emplace_back(key, parse_expression());
      } else {
        if (!e.named.empty()) error("positional argument after a keyword argument");
        e.items.push_back(parse_expression());
      }
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee, int line) {
    auto c = make(Expr::Kind::kCall, line);
    c->object = std::move(callee);
    parse_args(*c);
    return c;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    while (true) {
      int line = cur().line;
      if (skip_op("|")) {
        auto f = make(Expr::Kind::kFilter, line);
        f->object = std::move(e);
        f->name = expect_name();
        if (options_.known_filter && !options_.known_filter(f->name)) error("unknown filter '" + f->name + "'", line);
        if (is_op("(")) parse_args(*f);
        e = std::move(f);
      } else if (is_name("is")) {
        advance();
        auto t = make(Expr::Kind::kTest, line);
        t->negated = skip_name("not");
        t->object = std::move(e);
        t->name = expect_name();
        if (options_.known_test && !options_.known_test(t->name)) error("unknown test '" + t->name + "'", line);
        if (is_op("(")) {
          parse_args(*t);
        } else if ((cur().kind == TokenKind::kName && cur().text != "else" && cur().text != "or" &&
                    cur().text != "and") ||
                   cur().kind == TokenKind::kString || cur().kind == TokenKind::kInt ||
                   cur().kind == TokenKind::kFloat || is_op("[") || is_op("{")) {
          // `x is sameas false`, `x is divisibleby 3`: one argument, no parens.
          t->items.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(t);
      } else if (is_op("(")) {
        e = parse_call(std::move(e), line);
      } else {
        return e;
      }
    }
  }

  const std::vector<Token>& toks_;
  const std::string& name_;
  const ParseOptions& options_;
  size_t pos_ = 0;
  int loop_depth_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse(const std::vector<Token>& tokens, const std::string& name, const ParseOptions& options) {
  return Parser(tokens, name, options).parse_template();
}

}  // namespace moerun::jinja
