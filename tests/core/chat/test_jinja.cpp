// Jinja interpreter: every case of tests/golden/chat_templates/jinja_features.json
// (small templates rendered by Python's jinja2 in HF's configuration) must
// render byte-exactly, plus checks of what only the C++ side has: errors that
// name the line, JSON round trips, float and UTF-8 helpers.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/chat/chat_template.h"
#include "core/chat/jinja_eval.h"
#include "core/chat/jinja_json.h"
#include "core/chat/jinja_lexer.h"
#include "core/chat/jinja_template.h"

using namespace moerun;
using namespace moerun::jinja;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::tm tm_from_json(const Value& v) {
  const auto& a = v.as_array().items;
  std::tm t{};
  t.tm_year = static_cast<int>(a.at(0).as_int()) - 1900;
  t.tm_mon = static_cast<int>(a.at(1).as_int()) - 1;
  t.tm_mday = static_cast<int>(a.at(2).as_int());
  t.tm_hour = static_cast<int>(a.at(3).as_int());
  t.tm_min = static_cast<int>(a.at(4).as_int());
  t.tm_sec = static_cast<int>(a.at(5).as_int());
  std::tm copy = t;
  timegm(&copy);  // only to fill tm_wday/tm_yday (for %a, %j); the wall time stays as given
  t.tm_wday = copy.tm_wday;
  t.tm_yday = copy.tm_yday;
  return t;
}

std::string render_str(const std::string& src, const Dict& ctx = {}) { return Template(src, "t").render(ctx); }

}  // namespace

TEST_CASE("jinja: features match Python jinja2 (golden file)") {
  Value golden = parse_json(read_text(std::string(MOERUN_SOURCE_DIR) + "/tests/golden/chat_templates/jinja_features.json"));
  std::tm now = tm_from_json(*golden.as_dict().find("now"));
  const auto& cases = golden.as_dict().find("cases")->as_array().items;
  REQUIRE(cases.size() > 50);
  int checked = 0;
  for (const Value& c : cases) {
    const Dict& d = c.as_dict();
    std::string name = d.find("name")->as_string();
    std::string src = d.find("template")->as_string();
    Dict ctx = d.find("context")->as_dict();
    add_hf_globals(ctx, now);
    CAPTURE(name);
    CAPTURE(src);
    if (const Value* expected = d.find("expected")) {
      std::string got;
      try {
        got = Template(src, name).render(ctx);
      } catch (const std::exception& e) {
        FAIL_CHECK("threw: " << std::string(e.what()));
        continue;
      }
      CHECK(got == expected->as_string());
    } else if (d.find("raised")->as_bool()) {
      std::string msg;
      try {
        Template(src, name).render(ctx);
      } catch (const TemplateRaised& e) {
        msg = e.what();
      }
      CHECK(msg == d.find("error")->as_string());
    } else {
      // Python failed here (undefined attribute, bad operand, unknown filter,
      // syntax error, sandboxed list.append): we must fail too, with an Error.
      CHECK_THROWS_AS(Template(src, name).render(ctx), moerun::Error);
    }
    ++checked;
  }
  CHECK(checked == static_cast<int>(cases.size()));
}

TEST_CASE("jinja: errors name the template and line") {
  auto message = [](const std::string& src) {
    try {
      Template(src, "tpl").render({});
    } catch (const moerun::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(message("a\nb\n{{ x | nosuchfilter }}") == "template tpl line 3: unknown filter 'nosuchfilter'");
  CHECK(message("\n\n\n{% include 'x' %}") == "template tpl line 4: unsupported tag 'include'");
  CHECK(message("{% if x %}\n\nfoo") == "template tpl line 3: unexpected end of template, expected 'elif' or 'else' or 'endif'");
  CHECK(message("x\n{{ y is nosuchtest }}") == "template tpl line 2: unknown test 'nosuchtest'");
  CHECK(message("{% endfor %}") == "template tpl line 1: unexpected 'endfor' (no open block it could close)");
  CHECK(message("\n{{ 'abc }}") == "template tpl line 2: unterminated string literal");
  CHECK(message("{# open") == "template tpl line 1: missing end of comment tag");
  CHECK(message("\n\n{{ a.b.c }}") == "template tpl line 3: 'a' is undefined");
  CHECK(message("{{ 1 }}\n{{ 'a' + 1 }}") == "template tpl line 2: can only concatenate str (not \"int\") to str");
  CHECK(message("{% for a, b in [1] %}{% endfor %}").find("line 1: cannot unpack") != std::string::npos);
  CHECK(message("{% set x = 1 %}{% set x.y = 2 %}") ==
        "template tpl line 1: cannot assign attribute 'y' on non-namespace object 'x'");
  CHECK(message("{% break %}") == "template tpl line 1: 'break' outside of a loop");
  CHECK(message("{{ 9223372036854775807 + 1 }}").find("integer overflow") != std::string::npos);
  CHECK(message("{{ (x) }") .find("line 1: unexpected '}'") != std::string::npos);
}

TEST_CASE("jinja: raise_exception is TemplateRaised with the template's message and line") {
  Dict ctx;
  add_hf_globals(ctx, std::nullopt);
  try {
    Template("ok\n{{ raise_exception('roles must alternate') }}", "t").render(ctx);
    FAIL("no exception");
  } catch (const TemplateRaised& e) {
    CHECK(std::string(e.what()) == "roles must alternate");
    CHECK(e.line() == 2);
  }
}

TEST_CASE("jinja: lexer whitespace rules") {
  // One trailing newline is dropped, as jinja2's keep_trailing_newline=False does.
  CHECK(render_str("x\n") == "x");
  CHECK(render_str("x\n\n") == "x\n");
  // trim_blocks eats the newline after a block tag, not after {{ }}.
  CHECK(render_str("{% if true %}\nA{{ 'b' }}\nC{% endif %}") == "Ab\nC");
  // lstrip_blocks: indentation before a tag on its own line goes, inline space stays.
  CHECK(render_str("x\n    {% if true %}y{% endif %}") == "x\ny");
  CHECK(render_str("x {% if true %}y{% endif %}") == "x y");
  // `+` keeps the indentation lstrip_blocks would remove.
  CHECK(render_str("x\n  {%+ if true %}y{% endif %}") == "x\n  y");
  std::vector<Token> toks = lex("a{{- b -}}c", "t");
  REQUIRE(toks.size() == 6);
  CHECK(toks[0].kind == TokenKind::kText);
  CHECK(toks[2].kind == TokenKind::kName);
  CHECK(toks[4].text == "c");
}

TEST_CASE("jinja: unsupported constructs are errors, never silent output") {
  CHECK_THROWS_AS(Template("{% extends 'base' %}", "t"), moerun::Error);
  CHECK_THROWS_AS(Template("{% raw %}x{% endraw %}", "t"), moerun::Error);
  CHECK_THROWS_AS(Template("{% for x in y recursive %}{% endfor %}", "t"), moerun::Error);
  CHECK_THROWS_AS(Template("{{ f(*args) }}", "t"), moerun::Error);
  CHECK_THROWS_AS(render_str("{{ '%s' % 1 }}"), moerun::Error);
  CHECK_THROWS_AS(render_str("{{ {1: 2} }}"), moerun::Error);
}

TEST_CASE("jinja: hostile templates fail cleanly") {
  // Deep nesting would overflow the parser's stack.
  std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  CHECK_THROWS_WITH_AS(Template(deep, "t"), doctest::Contains("nesting deeper than"), moerun::Error);
  std::string blocks;
  for (int i = 0; i < 1000; ++i) blocks += "{% if true %}";
  CHECK_THROWS_AS(Template(blocks, "t"), moerun::Error);
  // Unbounded macro recursion.
  CHECK_THROWS_WITH_AS(render_str("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"),
                       doctest::Contains("recursed too deeply"), moerun::Error);
  CHECK_THROWS_WITH_AS(render_str("{{ 'abcd' * 100000000 }}"), doctest::Contains("too large"), moerun::Error);
  CHECK_THROWS_AS(render_str("{{ range(1000000)|length }}"), moerun::Error);
}

TEST_CASE("jinja: a render has a step budget and a text budget (jinja_limits.h)") {
  // Nested loops within range()'s cap: 10^10 iterations without the budget.
  CHECK_THROWS_WITH_AS(render_str("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"),
                       doctest::Contains("steps"), moerun::jinja::TemplateError);
  CHECK_THROWS_WITH_AS(render_str("{% for a in range(100000) %}{% for b in range(100000) if b %}{% endfor %}{% endfor %}"),
                       doctest::Contains("steps"), moerun::jinja::TemplateError);
  // A string doubled in a loop: 2^40 bytes after 40 rounds.
  const char* doubling = "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}";
  CHECK_THROWS_WITH_AS(render_str(doubling), doctest::Contains("MiB a template may build"), moerun::Error);
  CHECK_THROWS_WITH_AS(render_str("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
                                  "{% endfor %}"),
                       doctest::Contains("MiB a template may build"), moerun::Error);
  CHECK_THROWS_WITH_AS(render_str("{{ (['x' * 10000000] * 1000)|join }}"), doctest::Contains("too large"), moerun::Error);
  CHECK_THROWS_WITH_AS(render_str("{{ ['x' * 10000000, 'y' * 10000000]|join }}"), doctest::Contains("join"),
                       moerun::Error);
  CHECK_THROWS_WITH_AS(render_str("{{ ('a' * 10000000)|replace('a', 'aa') }}"), doctest::Contains("replace()"),
                       moerun::Error);
  CHECK_THROWS_WITH_AS(render_str("{% for i in range(20) %}{{ 'a' * 10000000 }}{% endfor %}"),
                       doctest::Contains("rendered text would pass"), moerun::jinja::TemplateError);
  // Widths as Python's ' ' * n: negative is none (found by fuzzing: it was a
  // length_error that ended the process), too large is the text budget.
  CHECK(render_str("{{ 'a\nb'|indent(-2) }}") == "a\nb");
  CHECK(render_str("{{ {'k': 1}|tojson(indent=-1) }}") == "{\n\"k\": 1\n}");
  CHECK_THROWS_WITH_AS(render_str("{{ 'a\nb'|indent(100000000000) }}"), doctest::Contains("MiB a template may build"),
                       moerun::Error);
  CHECK_THROWS_WITH_AS(render_str("{{ 'x'|tojson(indent=100000000000) }}"), doctest::Contains("MiB a template may build"),
                       moerun::Error);
  CHECK_THROWS_WITH_AS(render_str("{{ ('a\n' * 5000000)|indent(8) }}"), doctest::Contains("MiB a template may build"),
                       moerun::Error);
  // Real work stays far inside: 20000 iterations render.
  CHECK(render_str("{% for i in range(200) %}{% for j in range(100) %}.{% endfor %}{% endfor %}").size() == 20000);
}

TEST_CASE("jinja: HF's {% generation %} tag is transparent") {
  CHECK(render_str("a{% generation %}b{{ 1 }}{% endgeneration %}c") == "ab1c");
}

TEST_CASE("jinja: json parse and dump") {
  Value v = parse_json(R"({"b": [1, 2.5, true, null, "\u00e9\ud83d\ude42\n"], "a": {}})");
  CHECK(to_json(v) == "{\"b\": [1, 2.5, true, null, \"é🙂\\n\"], \"a\": {}}");
  JsonDumpOptions sorted;
  sorted.sort_keys = true;
  CHECK(to_json(v, sorted).rfind("{\"a\": {}", 0) == 0);
  CHECK_THROWS_AS(parse_json("{\"a\": }"), moerun::Error);
  CHECK_THROWS_AS(parse_json("[1, 2"), moerun::Error);
  CHECK_THROWS_AS(parse_json("[1] x"), moerun::Error);
  CHECK_THROWS_AS(to_json(Value()), moerun::Error);
  CHECK(parse_json("-12").as_int() == -12);
  CHECK(parse_json("1e2").is_float());
}

TEST_CASE("jinja: Python float repr and UTF-8 helpers") {
  CHECK(format_python_float(1.0) == "1.0");
  CHECK(format_python_float(0.1) == "0.1");
  CHECK(format_python_float(1e16) == "1e+16");
  CHECK(format_python_float(1234567890123456.0) == "1234567890123456.0");
  CHECK(format_python_float(0.0001) == "0.0001");
  CHECK(format_python_float(0.00001) == "1e-05");
  CHECK(format_python_float(-2.5e-300) == "-2.5e-300");
  // Invalid UTF-8 survives a decode/encode round trip unchanged.
  std::string bad = "a\xff\xc3(\xe2\x82";
  CHECK(u32_to_utf8(utf8_to_u32(bad)) == bad);
  CHECK(utf8_to_u32("é🙂").size() == 2);
  // Slicing and length work on code points even with invalid bytes inside.
  Dict ctx;
  ctx.set("s", Value(bad));
  CHECK(render_str("{{ s|length }}|{{ s[1:] }}", ctx) == "6|" + bad.substr(1));
}
