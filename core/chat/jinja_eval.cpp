// Tree-walking evaluator with jinja2's scoping and Python's operators.
#include "core/chat/jinja_eval.h"

#include <cmath>
#include <cstdint>
#include <memory>

#include "core/chat/jinja_builtins.h"
#include "core/chat/jinja_limits.h"

namespace moerun::jinja {
namespace {

// A variable frame. Lookups walk up the parents; assignments write here.
struct Scope {
  std::shared_ptr<Scope> parent;
  Dict vars;

  const Value* lookup(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent.get()) {
      if (const Value* v = s->vars.find(name)) return v;
    }
    return nullptr;
  }
};
using ScopePtr = std::shared_ptr<Scope>;

enum class Flow { kNormal, kBreak, kContinue };

[[noreturn]] void type_error(const std::string& op, const Value& a, const Value& b) {
  fail("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

// Python ints never overflow; ours are 64-bit, so overflow is an error.
int64_t checked_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) fail("integer overflow (moerun's ints are 64-bit)");
  return r;
}
int64_t checked_sub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) fail("integer overflow (moerun's ints are 64-bit)");
  return r;
}
int64_t checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) fail("integer overflow (moerun's ints are 64-bit)");
  return r;
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) fail(a.undefined_hint());
  if (b.is_undefined()) fail(b.undefined_hint());
  bool nums = a.is_number() && b.is_number();
  bool ints = nums && !a.is_float() && !b.is_float();
  if (op == "+") {
    if (ints) return Value(checked_add(a.as_int(), b.as_int()));
    if (nums) return Value(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) {
      check_text_size(a.as_string().size() + b.as_string().size(), "a string");
      return Value(a.as_string() + b.as_string());
    }
    if (a.is_array() && b.is_array() && a.as_array().is_tuple == b.as_array().is_tuple) {
      std::vector<Value> items = a.as_array().items;
      items.insert(items.end(), b.as_array().items.begin(), b.as_array().items.end());
      return a.as_array().is_tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    }
    if (a.is_string()) fail("can only concatenate str (not \"" + b.type_name() + "\") to str");
    type_error(op, a, b);
  }
  if (op == "-") {
    if (ints) return Value(checked_sub(a.as_int(), b.as_int()));
    if (nums) return Value(a.as_double() - b.as_double());
    type_error(op, a, b);
  }
  if (op == "*") {
    if (ints) return Value(checked_mul(a.as_int(), b.as_int()));
    if (nums) return Value(a.as_double() * b.as_double());
    const Value* seq = a.is_string() || a.is_array() ? &a : b.is_string() || b.is_array() ? &b : nullptr;
    const Value* count = seq == &a ? &b : &a;
    if (seq && (count->is_int() || count->is_bool())) {
      int64_t n = count->as_int();
      size_t unit = seq->is_string() ? seq->as_string().size() : seq->as_array().items.size();
      // A cap (kMaxTextBytes bytes/items) so a hostile template cannot exhaust
      // memory; for a list, its strings count too ([s] * n copies s n times).
      if (seq->is_array()) {
        for (const Value& v : seq->as_array().items) unit += v.is_string() ? v.as_string().size() : 0;
      }
      if (n > 0 && unit > 0 && static_cast<uint64_t>(n) > kMaxTextBytes / unit) fail("sequence repetition too large");
      if (seq->is_string()) {
        std::string out;
        out.reserve(n > 0 ? unit * static_cast<size_t>(n) : 0);
        for (int64_t i = 0; i < n; ++i) out += seq->as_string();
        return Value(out);
      }
      std::vector<Value> out;
      for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq->as_array().items.begin(), seq->as_array().items.end());
      return Value::list(std::move(out));
    }
    type_error(op, a, b);
  }
  if (!nums) {
    if (op == "%" && a.is_string()) fail("printf-style '%' string formatting is not supported");
    type_error(op, a, b);
  }
  if (op == "/") {
    if (b.as_double() == 0.0) fail("division by zero");
    return Value(a.as_double() / b.as_double());
  }
  if (op == "//" || op == "%") {
    if (ints) {
      int64_t x = a.as_int(), y = b.as_int();
      if (y == 0) fail("integer division or modulo by zero");
      // Python floors toward -infinity; the remainder takes the divisor's sign.
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        q -= 1;
        m += y;
      }
      return Value(op == "//" ? q : m);
    }
    double x = a.as_double(), y = b.as_double();
    if (y == 0.0) fail("float division by zero");
    if (op == "//") return Value(std::floor(x / y));
    double m = std::fmod(x, y);
    if (m != 0.0 && ((m < 0) != (y < 0))) m += y;
    return Value(m);
  }
  if (op == "**") {
    if (ints && b.as_int() >= 0) {
      int64_t base = a.as_int(), out = 1;
      for (int64_t i = 0; i < b.as_int(); ++i) out = checked_mul(out, base);
      return Value(out);
    }
    return Value(std::pow(a.as_double(), b.as_double()));
  }
  fail("unknown operator " + op);
}

bool contains(const Value& seq, const Value& item) {
  if (seq.is_string()) {
    if (item.is_undefined()) fail(item.undefined_hint());
    if (!item.is_string()) fail("'in <string>' requires string as left operand, not " + item.type_name());
    return seq.as_string().find(item.as_string()) != std::string::npos;
  }
  if (seq.is_dict()) return item.is_string() && seq.as_dict().find(item.as_string()) != nullptr;
  for (const Value& x : iterate(seq))
    if (x.equals(item)) return true;
  return false;
}

bool compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return a.equals(b);
  if (op == "!=") return !a.equals(b);
  if (op == "in") return contains(b, a);
  if (op == "not in") return !contains(b, a);
  if (a.is_undefined()) fail(a.undefined_hint());
  if (b.is_undefined()) fail(b.undefined_hint());
  if (op == "<") return a.less(b);
  if (op == ">") return b.less(a);
  if (op == "<=") return !b.less(a);
  if (op == ">=") return !a.less(b);
  fail("unknown comparison " + op);
}

class Evaluator {
 public:
  explicit Evaluator(const std::string& name) : name_(name) {}

  void exec_body(const Body& body, const ScopePtr& scope, std::string& out, Flow* flow) {
    for (const StmtPtr& s : body) {
      exec(*s, scope, out, flow);
      if (*flow != Flow::kNormal) return;
    }
  }

  Value eval(const Expr& e, const ScopePtr& scope) {
    try {
      return eval_inner(e, scope);
    } catch (const TemplateError&) {
      throw;
    } catch (const TemplateRaised& r) {
      if (r.line() != 0) throw;
      throw TemplateRaised(r.what(), e.line);
    } catch (const Error& err) {
      throw TemplateError(where(e.line) + err.what(), err.kind());
    }
  }

 private:
  std::string where(int line) const { return "template " + name_ + " line " + std::to_string(line) + ": "; }

  // One step of the render's budget (jinja_limits.h).
  void step(int line) {
    if (++steps_ > kMaxSteps) {
      throw TemplateError(where(line) + "the template ran more than " + std::to_string(kMaxSteps) +
                          " steps (a loop that does not end?)");
    }
  }

  void append(std::string& out, const std::string& text, int line) {
    if (out.size() + text.size() > kMaxTextBytes) {
      throw TemplateError(where(line) + "the rendered text would pass " + std::to_string(kMaxTextBytes >> 20) +
                          " MiB");
    }
    out += text;
  }

  void exec(const Stmt& s, const ScopePtr& scope, std::string& out, Flow* flow) {
    step(s.line);
    switch (s.kind) {
      case Stmt::Kind::kText: append(out, s.text, s.line); return;
      case Stmt::Kind::kOutput: append(out, eval(*s.expr, scope).str(), s.line); return;
      case Stmt::Kind::kIf:
        for (size_t i = 0; i < s.conditions.size(); ++i) {
          if (eval(*s.conditions[i], scope).truthy()) {
            exec_body(s.bodies[i], scope, out, flow);
            return;
          }
        }
        exec_body(s.else_body, scope, out, flow);
        return;
      case Stmt::Kind::kFor: exec_for(s, scope, out, flow); return;
      case Stmt::Kind::kSet: {
        Value v = eval(*s.expr, scope);
        if (!s.text.empty()) {  // ns.attr = value
          const Value* target = scope->lookup(s.targets[0]);
          if (!target || !target->is_namespace())
            throw TemplateError(where(s.line) + "cannot assign attribute '" + s.text + "' on non-namespace object '" +
                                s.targets[0] + "'");
          target->as_namespace().attrs.set(s.text, std::move(v));
          return;
        }
        assign(s.targets, v, *scope, s.line);
        return;
      }
      case Stmt::Kind::kSetBlock: {
        std::string captured;
        Flow inner = Flow::kNormal;
        exec_body(s.bodies[0], scope, captured, &inner);
        scope->vars.set(s.targets[0], Value(captured));
        return;
      }
      case Stmt::Kind::kMacro: scope->vars.set(s.text, make_macro(s, scope)); return;
      case Stmt::Kind::kBreak: *flow = Flow::kBreak; return;
      case Stmt::Kind::kContinue: *flow = Flow::kContinue; return;
    }
  }

  void assign(const std::vector<std::string>& targets, const Value& v, Scope& scope, int line) {
    if (targets.size() == 1) {
      scope.vars.set(targets[0], v);
      return;
    }
    std::vector<Value> items;
    try {
      items = iterate(v);
    } catch (const Error& err) {
      throw TemplateError(where(line) + "cannot unpack: " + err.what());
    }
    if (items.size() != targets.size())
      throw TemplateError(where(line) + "cannot unpack " + std::to_string(items.size()) + " values into " +
                          std::to_string(targets.size()) + " names");
    for (size_t i = 0; i < targets.size(); ++i) scope.vars.set(targets[i], items[i]);
  }

  void exec_for(const Stmt& s, const ScopePtr& scope, std::string& out, Flow* outer_flow) {
    Value seq = eval(*s.expr, scope);
    std::vector<Value> items;
    try {
      items = iterate(seq);
    } catch (const Error& err) {
      throw TemplateError(where(s.line) + err.what());
    }
    // `for x in xs if cond`: filter first, so loop.length/last count only kept items.
    if (s.filter) {
      std::vector<Value> kept;
      for (const Value& item : items) {
        step(s.line);
        auto probe = std::make_shared<Scope>();
        probe->parent = scope;
        assign(s.targets, item, *probe, s.line);
        if (eval(*s.filter, probe).truthy()) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      exec_body(s.else_body, scope, out, outer_flow);
      return;
    }
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      step(s.line);
      auto iter_scope = std::make_shared<Scope>();
      iter_scope->parent = scope;
      Dict loop;
      loop.set("index0", Value(i));
      loop.set("index", Value(i + 1));
      loop.set("revindex0", Value(n - i - 1));
      loop.set("revindex", Value(n - i));
      loop.set("first", Value(i == 0));
      loop.set("last", Value(i == n - 1));
      loop.set("length", Value(n));
      loop.set("depth", Value(1));
      loop.set("depth0", Value(0));
      loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
      loop.set("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
      loop.set("cycle", Value::function("loop.cycle", [i](const CallArgs& a) {
                 if (a.positional.empty()) fail("no items for cycling given");
                 return a.positional[static_cast<size_t>(i) % a.positional.size()];
               }));
      iter_scope->vars.set("loop", Value::dict(std::move(loop)));
      assign(s.targets, items[static_cast<size_t>(i)], *iter_scope, s.line);
      Flow flow = Flow::kNormal;
      exec_body(s.bodies[0], iter_scope, out, &flow);
      if (flow == Flow::kBreak) break;
    }
  }

  Value make_macro(const Stmt& s, const ScopePtr& defining_scope) {
    const Stmt* def = &s;
    // Weak: the scope holds the macro, so a strong reference would be a cycle.
    std::weak_ptr<Scope> weak_scope = defining_scope;
    return Value::function(s.text, [this, def, weak_scope](const CallArgs& a) {
      auto call_scope = std::make_shared<Scope>();
      call_scope->parent = weak_scope.lock();
      if (!call_scope->parent) fail("macro '" + def->text + "' called after its scope ended");
      // Python stops runaway recursion with RecursionError; we must not crash.
      if (macro_depth_ >= kMaxMacroDepth) fail("macro '" + def->text + "' recursed too deeply");
      struct DepthScope {
        int& d;
        explicit DepthScope(int& depth) : d(depth) { ++d; }
        ~DepthScope() { --d; }
      } depth_scope(macro_depth_);
      if (a.positional.size() > def->params.size())
        fail("macro '" + def->text + "' takes not more than " + std::to_string(def->params.size()) + " argument(s)");
      for (const auto& [k, v] : a.named) {
        bool known = false;
        for (const auto& p : def->params) known = known || p == k;
        if (!known) fail("macro '" + def->text + "' takes no keyword argument '" + k + "'");
      }
      for (size_t i = 0; i < def->params.size(); ++i) {
        const Value* v = a.get(i, def->params[i]);
        if (v) call_scope->vars.set(def->params[i], *v);
        else if (def->defaults[i]) call_scope->vars.set(def->params[i], eval(*def->defaults[i], call_scope));
        else call_scope->vars.set(def->params[i], Value::undefined("parameter '" + def->params[i] + "' was not provided"));
      }
      std::string out;
      Flow flow = Flow::kNormal;
      exec_body(def->bodies[0], call_scope, out, &flow);
      return Value(out);
    });
  }

  CallArgs eval_args(const Expr& e, const ScopePtr& scope) {
    CallArgs a;
    a.line = e.line;
    for (const ExprPtr& x : e.items) a.positional.push_back(eval(*x, scope));
    for (const auto& [k, x] : e.named) a.named.emplace_back(k, eval(*x, scope));
    return a;
  }

  Value eval_inner(const Expr& e, const ScopePtr& scope) {
    switch (e.kind) {
      case Expr::Kind::kLiteral: return e.value;
      case Expr::Kind::kName: {
        const Value* v = scope->lookup(e.name);
        return v ? *v : Value::undefined("'" + e.name + "' is undefined");
      }
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        std::vector<Value> items;
        for (const ExprPtr& x : e.items) items.push_back(eval(*x, scope));
        return e.kind == Expr::Kind::kList ? Value::list(std::move(items)) : Value::tuple(std::move(items));
      }
      case Expr::Kind::kDict: {
        Dict d;
        for (size_t i = 0; i < e.keys.size(); ++i) {
          Value k = eval(*e.keys[i], scope);
          if (!k.is_string()) fail("dict keys must be strings here, got " + k.type_name());
          d.set(k.as_string(), eval(*e.items[i], scope));
        }
        return Value::dict(std::move(d));
      }
      case Expr::Kind::kGetAttr: return get_attr(eval(*e.object, scope), e.name);
      case Expr::Kind::kGetItem: return get_item(eval(*e.object, scope), eval(*e.items[0], scope));
      case Expr::Kind::kSlice: {
        Value obj = eval(*e.object, scope);
        Value parts[3];
        for (int i = 0; i < 3; ++i)
          parts[i] = e.items[static_cast<size_t>(i)] ? eval(*e.items[static_cast<size_t>(i)], scope) : Value(None{});
        return get_slice(obj, parts[0], parts[1], parts[2]);
      }
      case Expr::Kind::kCall: {
        Value callee = eval(*e.object, scope);
        if (callee.is_undefined()) fail(callee.undefined_hint());
        if (!callee.is_callable()) fail("'" + callee.type_name() + "' object is not callable");
        CallArgs a = eval_args(e, scope);
        return callee.as_callable().fn(a);
      }
      case Expr::Kind::kFilter: {
        Value v = eval(*e.object, scope);
        return apply_filter(e.name, v, eval_args(e, scope));
      }
      case Expr::Kind::kTest: {
        Value v = eval(*e.object, scope);
        bool r = apply_test(e.name, v, eval_args(e, scope));
        return Value(e.negated ? !r : r);
      }
      case Expr::Kind::kUnary: {
        Value v = eval(*e.object, scope);
        if (e.name == "not") return Value(!v.truthy());
        if (v.is_undefined()) fail(v.undefined_hint());
        if (!v.is_number()) fail("bad operand type for unary " + e.name + ": '" + v.type_name() + "'");
        if (e.name == "+") return v.is_float() ? Value(v.as_double()) : Value(v.as_int());
        if (v.is_float()) return Value(-v.as_double());
        return Value(checked_sub(0, v.as_int()));
      }
      case Expr::Kind::kBinary: {
        Value a = eval(*e.object, scope);
        // and/or return an operand, as in Python, and short-circuit.
        if (e.name == "and") return a.truthy() ? eval(*e.right, scope) : a;
        if (e.name == "or") return a.truthy() ? a : eval(*e.right, scope);
        Value b = eval(*e.right, scope);
        if (e.name == "~") {
          std::string joined = a.str();
          const std::string right = b.str();
          check_text_size(joined.size() + right.size(), "a string");
          return Value(joined + right);
        }
        return arithmetic(e.name, a, b);
      }
      case Expr::Kind::kCompare: {
        Value left = eval(*e.object, scope);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.items[i], scope);
          if (!compare(e.ops[i], left, right)) return Value(false);
          left = std::move(right);
        }
        return Value(true);
      }
      case Expr::Kind::kCondition:
        if (eval(*e.items[0], scope).truthy()) return eval(*e.object, scope);
        return e.right ? eval(*e.right, scope) : Value::undefined("the inline if expression's else branch was taken");
    }
    fail("unknown expression");
  }

  static constexpr int kMaxMacroDepth = 100;
  int64_t steps_ = 0;
  std::string name_;
  int macro_depth_ = 0;
};

}  // namespace

std::string evaluate(const Body& body, const Dict& context, const std::string& name) {
  auto globals = std::make_shared<Scope>();
  globals->vars = builtin_globals();
  auto ctx = std::make_shared<Scope>();
  ctx->parent = globals;
  ctx->vars = context;
  auto top = std::make_shared<Scope>();
  top->parent = ctx;
  Evaluator ev(name);
  std::string out;
  Flow flow = Flow::kNormal;
  ev.exec_body(body, top, out, &flow);
  return out;
}

}  // namespace moerun::jinja
