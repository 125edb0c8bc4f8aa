// Jinja syntax tree: what the parser builds and the evaluator walks.
// Plain structs with a kind tag; every node keeps its template line so that
// runtime errors name it. Owns no behaviour.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/chat/jinja_value.h"

namespace moerun::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,    // value
    kName,       // name
    kList,       // items
    kTuple,      // items
    kDict,       // keys[i]: items[i]
    kGetAttr,    // object.name
    kGetItem,    // object[index]
    kSlice,      // object[a:b:c]: items = {start, stop, step}, each may be null
    kCall,       // object(items..., named...)
    kFilter,     // object | name(items..., named...)
    kTest,       // object is [not] name(items...)
    kUnary,      // op object: "-", "+", "not"
    kBinary,     // object op right: + - * / // % ** ~ and or in "not in"
    kCompare,    // object ops[0] items[0] ops[1] items[1]... (chained)
    kCondition,  // items[0] if object else items[1] (items[1] may be null)
  };
  Kind kind;
  int line = 0;
  Value value;                // kLiteral
  std::string name;           // kName, kGetAttr, kFilter, kTest; operator for kUnary/kBinary
  bool negated = false;       // kTest: `is not`
  ExprPtr object;             // the operand the node applies to
  ExprPtr right;              // kBinary
  std::vector<ExprPtr> items;  // see per kind
  std::vector<ExprPtr> keys;   // kDict
  std::vector<std::string> ops;                          // kCompare
  std::vector<std::pair<std::string, ExprPtr>> named;    // keyword arguments

  Expr(Kind k, int l) : kind(k), line(l) {}
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  enum class Kind {
    kText,      // text
    kOutput,    // {{ expr }}
    kIf,        // conditions[i] -> bodies[i]; else_body
    kFor,       // for targets in expr [if filter]: bodies[0]; else_body
    kSet,       // set targets = expr, or set targets[0].attr = expr
    kSetBlock,  // {% set targets[0] %}bodies[0]{% endset %}
    kMacro,     // macro name(params, defaults): bodies[0]
    kBreak,
    kContinue,
  };
  Kind kind;
  int line = 0;
  std::string text;                  // kText; macro name; set attribute (ns.attr)
  ExprPtr expr;                      // output / for iterable / set value
  ExprPtr filter;                    // for ... if filter
  std::vector<std::string> targets;  // loop or set names
  std::vector<ExprPtr> conditions;   // kIf
  std::vector<Body> bodies;          // kIf branches, kFor/kSetBlock/kMacro body
  Body else_body;
  std::vector<std::string> params;   // kMacro
  std::vector<ExprPtr> defaults;     // kMacro: one per param, null if none

  Stmt(Kind k, int l) : kind(k), line(l) {}
};

}  // namespace moerun::jinja
