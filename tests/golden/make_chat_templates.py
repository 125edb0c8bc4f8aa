#!/usr/bin/python3
"""Expected chat-template renderings, made with a real Jinja engine.

Renders every template in ../shared/testdata/templates/ for a set of
conversations exactly as Hugging Face transformers' apply_chat_template does
(transformers/utils/chat_template_utils.py, _compile_jinja_template):
jinja2 ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[loopcontrols]), HF's own `tojson` filter (json.dumps with
ensure_ascii=False), globals raise_exception and strftime_now, and the
context messages, tools=None, documents=None, add_generation_prompt plus the
model's special tokens (a null token is left out, as HF's special_tokens_map
omits it). transformers' AssistantTracker extension ({% generation %}) is left
out: no template here uses it.

strftime_now reads a fixed clock (FIXED_NOW) instead of datetime.now(), so the
output is reproducible; the C++ test passes the same time.

Also renders tests/golden/chat_templates/jinja_features.json: small templates
that pin down interpreter features one by one against jinja2.

Run from the repository root with Debian's jinja2 (python3-jinja2):
    /usr/bin/python3 tests/golden/make_chat_templates.py
"""

import datetime
import json
import pathlib
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

REPO = pathlib.Path(__file__).resolve().parents[2]
TEMPLATES = REPO.parent / "shared" / "testdata" / "templates"
OUT = REPO / "tests" / "golden" / "chat_templates"
COMMAND = "/usr/bin/python3 tests/golden/make_chat_templates.py"

FIXED_NOW = datetime.datetime(2025, 3, 14, 15, 9, 26)

DEEPSEEK_CONFIG = REPO.parent / "shared" / "testdata" / "tokenizers" / "deepseek_v3" / "tokenizer_config.json"


def deepseek_tokens():
    cfg = json.loads(DEEPSEEK_CONFIG.read_text(encoding="utf-8"))
    return cfg["bos_token"]["content"], cfg["eos_token"]["content"]


DS_BOS, DS_EOS = deepseek_tokens()

# bos/eos as each model's Hugging Face tokenizer_config.json defines them.
SPECIAL_TOKENS = {
    # tokenizers/deepseek_v3/tokenizer_config.json (read above); DeepSeek-V3.1
    # and the R1 distills ship the same two tokens.
    "deepseek-ai-DeepSeek-V3.jinja": (DS_BOS, DS_EOS),
    "deepseek-ai-DeepSeek-V3.1.jinja": (DS_BOS, DS_EOS),
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja": (DS_BOS, DS_EOS),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja": (DS_BOS, DS_EOS),
    "llama-cpp-deepseek-r1.jinja": (DS_BOS, DS_EOS),
    # Qwen/Qwen3-0.6B: "bos_token": null, "eos_token": "<|im_end|>".
    "Qwen-Qwen3-0.6B.jinja": (None, "<|im_end|>"),
    # meta-llama Llama-3.1-8B-Instruct / Llama-3.2-3B-Instruct.
    "meta-llama-Llama-3.1-8B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct.jinja": ("<|begin_of_text|>", "<|eot_id|>"),
    # mistralai Mistral-Nemo-Instruct-2407 / Mistral-Small-3.2-24B-Instruct-2506.
    "mistralai-Mistral-Nemo-Instruct-2407.jinja": ("<s>", "</s>"),
    "Mistral-Small-3.2-24B-Instruct-2506.jinja": ("<s>", "</s>"),
}

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}

CONVERSATIONS = {
    "user": [{"role": "user", "content": "Hello!"}],
    "system_user": [SYSTEM, {"role": "user", "content": "Hello!"}],
    "multi_turn": [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "2+2 = 4."},
        {"role": "user", "content": "And times 3?"},
    ],
    "system_multi_turn": [
        SYSTEM,
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "2+2 = 4."},
        {"role": "user", "content": "And times 3?"},
    ],
    "ends_with_assistant": [
        SYSTEM,
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
    ],
    "think_history": [
        SYSTEM,
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "<think>\nAdd the numbers.\n</think>\n\n2+2 = 4."},
        {"role": "user", "content": "Thanks"},
    ],
    "unicode_whitespace": [
        {"role": "system", "content": "  Réponds en français.\n"},
        {"role": "user", "content": "  Ça va ? 日本語 🙂\n\n"},
        {"role": "assistant", "content": " Oui !  "},
        {"role": "user", "content": "\tEt toi ?\n"},
    ],
    "not_alternating": [
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
    ],
    "empty": [],
}


def make_env():
    # transformers' _compile_jinja_template, with the fixed clock.
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def render(env, source, context):
    """{"expected": text} or {"error": message, "raised": bool}."""
    try:
        return {"expected": env.from_string(source).render(**context)}
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"error": str(e), "raised": False}
    except jinja2.exceptions.UndefinedError as e:
        return {"error": str(e), "raised": False}
    except jinja2.exceptions.TemplateError as e:
        # raise_exception raises exactly TemplateError; subclasses (SecurityError...) are jinja2's own.
        return {"error": str(e), "raised": type(e) is jinja2.exceptions.TemplateError}
    except Exception as e:  # TypeError & co. from Python operators
        return {"error": f"{type(e).__name__}: {e}", "raised": False}


def chat_cases(env):
    cases = []
    for path in sorted(TEMPLATES.glob("*.jinja")):
        if path.name not in SPECIAL_TOKENS:
            sys.exit(f"no special tokens known for {path.name}: add it to SPECIAL_TOKENS")
        bos, eos = SPECIAL_TOKENS[path.name]
        source = path.read_text(encoding="utf-8")
        for conv_name, messages in CONVERSATIONS.items():
            for gen in (False, True):
                context = {"messages": messages, "tools": None, "documents": None, "add_generation_prompt": gen}
                if bos is not None:
                    context["bos_token"] = bos
                if eos is not None:
                    context["eos_token"] = eos
                case = {
                    "template": path.name,
                    "conversation": conv_name,
                    "add_generation_prompt": gen,
                    "bos_token": bos or "",
                    "eos_token": eos or "",
                    "messages": messages,
                }
                case.update(render(env, source, context))
                cases.append(case)
    return cases


# (name, template, context): one interpreter feature each.
FEATURES = [
    ("text_only", "hello\nworld\n", {}),
    ("keep_inner_trailing_newlines", "a\n\n", {}),
    ("crlf_normalised", "a\r\nb\rc", {}),
    ("print_var", "{{ x }}|{{ y }}|{{ z }}", {"x": "s", "y": 3, "z": None}),
    ("print_undefined", "[{{ nope }}]", {}),
    ("print_floats", "{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1.5e-5 }} {{ 123.456 }} {{ -0.0 }} {{ 3 / 2 }} {{ 4 / 2 }}", {}),
    ("print_containers", "{{ [1, 'a', none, true, 2.5] }} {{ {'k': 'v', 'n': [1]} }} {{ (1, 2) }} {{ (1,) }} {{ \"it's\" }}", {}),
    ("print_bool_none", "{{ true }} {{ false }} {{ none }} {{ True }} {{ None }}", {}),
    ("comment", "a{# hidden #}b", {}),
    ("ws_minus", "a  {{- 'b' -}}  c {%- if true -%} d {%- endif -%}  e", {}),
    ("ws_plus", "x\n  {%+ if true %}y{% endif +%}\nz", {}),
    ("trim_blocks", "{% if true %}\nline\n{% endif %}\nafter", {}),
    ("lstrip_blocks", "  {% if true %}\n  kept\n  {% endif %}\n  tail {% if true %}t{% endif %}\n", {}),
    ("lstrip_comment", "a\n  {# c #}\nb\n  {#- c -#}  \nc", {}),
    ("lstrip_not_for_var", "  {{ 'v' }}\n  {% if true %}x{% endif %}", {}),
    ("lstrip_after_inline_tag", "{% if true %}a{% endif %}  {% if true %}b{% endif %}", {}),
    ("if_elif_else", "{% for v in [1, 2, 3] %}{% if v == 1 %}one{% elif v == 2 %}two{% else %}many{% endif %},{% endfor %}", {}),
    ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index0 }}{{ loop.index }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", {}),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in none_list %}x{% else %}undef{% endfor %}", {}),
    ("for_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ ',' if not loop.last }}{% endfor %}", {}),
    ("for_unpack_items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d|items %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("for_dict_keys", "{% for k in d %}{{ k }}{% endfor %}", {"d": {"x": 1, "y": 2}}),
    ("for_prev_next_cycle", "{% for x in [1, 2, 3] %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }} {{ loop.cycle('a', 'b') }};{% endfor %}", {}),
    ("break_continue", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("loop_scope", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = 7 %}{{ x }}{% endfor %}{{ x }}", {}),
    ("loop_scope_fresh_iteration", "{% for i in [1, 2] %}{% if loop.first %}{% set y = 5 %}{% endif %}[{{ y }}]{% endfor %}", {}),
    ("if_scope_leaks", "{% if true %}{% set x = 2 %}{% endif %}{{ x }}", {}),
    ("nested_loops", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}", {}),
    ("namespace", "{% set ns = namespace(n=0, s='') %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }}", {}),
    ("namespace_late_attr", "{% set ns = namespace() %}{% set ns.index = 3 %}{{ ns.index }}", {}),
    ("set_tuple", "{% set a, b = [1, 2] %}{{ b }}{{ a }}", {}),
    ("set_block", "{% set x %}inner {{ 1 + 1 }}{% endset %}[{{ x }}]", {}),
    ("set_shadows_context", "{% set messages = messages[1:] %}{{ messages|length }}", {"messages": [1, 2, 3]}),
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(name='C', punct='.') }}", {}),
    ("macro_sees_outer_namespace", "{% set ns = namespace(flag=true) %}{% macro flush() %}{% if ns.flag %}F{% set ns.flag = false %}{% endif %}{% endmacro %}{{ flush() }}{{ flush() }}|{{ ns.flag }}", {}),
    ("macro_late_global", "{% macro m() %}{{ y }}{% endmacro %}{% set y = 3 %}{{ m() }}", {}),
    ("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 2 * 3 + 1 }} {{ 1 - 2 - 3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 'ab' * 3 }} {{ [1] * 2 }}", {}),
    ("concat_tilde", "{{ 'a' ~ 1 ~ none ~ undefined_thing ~ [1] }}", {}),
    ("plus_lists_strings", "{{ [1] + [2] }} {{ 'a' + 'b' }} {{ 1 + 2.5 }} {{ true + 1 }}", {}),
    ("compare", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ true == 1 }} {{ [1, 2] == [1, 2] }} {{ (1, 2) == [1, 2] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ none == none }} {{ 'a' != 'b' }}", {}),
    ("dict_equality", "{{ a == b }} {{ a == c }}", {"a": {"x": 1, "y": [1]}, "b": {"y": [1], "x": 1}, "c": {"x": 1}}),
    ("in_operator", "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in d }} {{ 'z' not in d }} {{ 'x' in nothing }} {{ 'v' in d }}", {"d": {"k": "v"}}),
    ("logic_returns_operands", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ '' and 'b' }}|{{ none or [] }}|{{ not 0 }} {{ not 'a' }}", {}),
    ("cond_expr", "{{ 'y' if true else 'n' }} {{ 'y' if false else 'n' }} [{{ 'y' if false }}] {{ 1 if false else 2 if true else 3 }}", {}),
    ("precedence_filter_binds_tight", "{{ '  a ' | trim + 'b' }} {{ 'x' + '  y  ' | trim }} {{ [1, 2, 3] | length - 1 }} {{ -2 | abs }}", {}),
    ("precedence_not_is", "{{ not x is defined }} {{ not none is none }} {{ x is not defined }}", {}),
    ("unary_minus_pow", "{{ -2 ** 2 }} {{ 2 ** -1 }} {{ -(2 ** 2) }}", {}),
    ("getattr_getitem", "{{ m.role }} {{ m['content'] }} [{{ m.nope }}] [{{ m['nope'] }}] {{ l[0] }} {{ l[-1] }} [{{ l[10] }}] {{ l.0 }}", {"m": {"role": "user", "content": "c"}, "l": [1, 2, 3]}),
    ("undefined_attr_is_defined", "{{ m.tool_calls is defined }} {{ m['tool_calls'] is defined }} {{ m.content is none }} {{ m['tool_calls'] is none }} {{ m.get('tool_calls') is none }}", {"m": {"content": None}}),
    ("undefined_semantics", "{{ u|length }} {{ u is iterable }} {{ u is sequence }} {{ u is string }} {{ u == u }} {{ u is none }} {{ u|default('d') }} {{ not u }} {% for x in u %}x{% endfor %}", {}),
    ("slicing", "{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ l[-2:] }} {{ l[5:] }} {{ 'héllo'[1:3] }} {{ 'abc'[::-1] }} {{ 'héllo'[1] }} {{ l[3:0:-1] }}", {"l": [1, 2, 3, 4, 5]}),
    ("string_methods", "{{ s.startswith('He') }} {{ s.endswith('!') }} {{ s.endswith(('x', '!')) }} {{ s.split(' ') }} {{ s.split() }} {{ 'a,b,,c'.split(',') }} {{ 'a b c'.split(' ', 1) }} {{ s.upper() }} {{ s.lower() }} {{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 1) }} {{ s.find('o') }} {{ s.count('l') }} {{ '-'.join(['a', 'b']) }}", {"s": "Hello world!"}),
    ("strip_methods", "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ t.strip('\\n') }}][{{ t.lstrip('\\n') }}][{{ t.rstrip('\\nx') }}][{{ u.strip() }}]", {"s": " \t a b \n", "t": "\n\nx\nabc\nx\n", "u": "\u3000\u00a0 ä \x1c"}),
    ("think_split", "{{ c.split('</think>')[-1].lstrip('\\n') }}|{{ c.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}|{{ c.split('</think>', 1)[1] }}", {"c": "<think>\nreason\n</think>\n\nanswer"}),
    ("dict_methods", "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 5) }} {{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }}", {"d": {"a": 1, "b": [2]}}),
    ("filters_basic", "{{ '  x  '|trim }}|{{ 'xxaxx'|trim('x') }}|{{ [1, 2]|length }}|{{ 'héllo'|length }}|{{ d|length }}|{{ 'aB'|upper }}{{ 'aB'|lower }}|{{ 'hello WORLD'|capitalize }}|{{ 5|string + 'a' }}|{{ [3, 1]|first }}{{ [3, 1]|last }}{{ 'abc'|first }}", {"d": {"a": 1}}),
    ("filter_default", "{{ u|default('dflt') }} {{ ''|default('dflt') }} {{ ''|default('dflt', true) }} {{ none|default('dflt') }} {{ u|d('x') }}", {}),
    ("filter_join_replace", "{{ [1, 2, 3]|join }} {{ ['a', 'b']|join(', ') }} {{ users|join(', ', attribute='name') }} {{ 'aaa'|replace('a', 'b') }} {{ 'aaa'|replace('a', 'b', 2) }}", {"users": [{"name": "x"}, {"name": "y"}]}),
    ("filter_select", "{{ msgs|selectattr('role', 'equalto', 'user')|list|length }} {{ msgs|rejectattr('role', 'equalto', 'user')|map(attribute='content')|list }} {{ msgs|selectattr('tool')|list|length }} {{ [1, 2, 3, 4]|select('even')|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} {{ ['a', 'b']|map('upper')|join }}", {"msgs": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool": True}, {"role": "user", "content": "c"}]}),
    ("filter_map_attribute_nested", "{{ tools|map(attribute='function')|map(attribute='name')|list }} {{ tools|map(attribute='function.name')|join(',') }}", {"tools": [{"function": {"name": "f"}}, {"function": {"name": "g"}}]}),
    ("filter_reject_equalto", "{{ ['a', 'code_interpreter', 'b']|reject('equalto', 'code_interpreter')|join(', ') }}", {}),
    ("filter_misc", "{{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ [1, 2, 1]|unique|list }} {{ [1, 2]|reverse|list }} {{ 'abc'|reverse }} {{ '42'|int + 1 }} {{ 'x'|int }} {{ '2.5'|float }} {{ -3|abs }} {{ [4, 2, 8]|min }} {{ [4, 2, 8]|max }} {{ 'abc'|list }}", {}),
    ("filter_indent", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}", {}),
    ("tojson_basic", "{{ v|tojson }}", {"v": {"s": "é\"\\\n\t\u0001</x>", "i": -3, "f": 2.5, "big": 1e20, "b": True, "n": None, "l": [1, [2, {}], []], "u": "🙂\u2028\x7f"}}),
    ("tojson_indent", "{{ v|tojson(indent=4) }}\n{{ v|tojson(indent=2) }}\n{{ []|tojson(indent=2) }}{{ {}|tojson(indent=2) }}", {"v": {"name": "f", "parameters": {"type": "object", "required": ["a"], "properties": {}}}}),
    ("tojson_options", "{{ v|tojson(separators=(',', ':')) }} {{ v|tojson(sort_keys=true) }} {{ 'é'|tojson(ensure_ascii=true) }} {{ '🙂'|tojson(ensure_ascii=true) }}", {"v": {"b": [1, 2], "a": "x"}}),
    ("tojson_scalars", "{{ 'a'|tojson }} {{ 1|tojson }} {{ 1.0|tojson }} {{ none|tojson }} {{ true|tojson }} {{ (1, 2)|tojson }}", {}),
    ("tests", "{{ 'a' is string }} {{ 1 is string }} {{ d is mapping }} {{ l is mapping }} {{ l is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ 1 is number }} {{ 1.5 is number }} {{ true is number }} {{ 1 is integer }} {{ 1.0 is float }} {{ true is boolean }} {{ none is none }} {{ false is false }} {{ 0 is false }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 2 is in [1, 2] }} {{ 1 is eq 1 }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 1 is ge 2 }} {{ none is sameas none }} {{ range is callable }}", {"d": {}, "l": []}),
    ("range_global", "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(5, 0, -2)|list }} {{ dict(a=1, b='x') }}", {}),
    ("string_escapes", "{{ 'a\\tb\\\\c\\'d' }}|{{ \"q\\\"x\" }}|{{ '\\u00e9\\x41\\U0001F642' }}|{{ '\\d' }}|{{ 'adj' 'acent' }}", {}),
    ("multiline_string_literal", "{{ 'line1\nline2' }}", {}),
    ("unicode_text", "ü{{ s }}😀{{ s|length }}", {"s": "日本"}),
    ("get_with_default", "{{ m.get('content', '') }}|{{ m.get('missing', 'dflt') }}|{{ m.get('tool_calls', [])|length }}", {"m": {"content": "c"}}),
    ("range_reverse", "{% for i in range(3 - 1, -1, -1) %}{{ i }}{% endfor %}", {}),
    ("default_true", "{% set agp = agp | default(true) %}{{ agp }}{% set x = false %}{{ x|default(true) }}", {}),
    ("in_list_literal", "{{ 'user' in ['user', 'developer'] }}{{ 'tool' in ['user'] }}", {}),
    ("macro_with_text_lines", "{%- macro render(items) -%}\n## Items\n{%- for i in items -%}\n  {{ '\\n' }}{{ i | tojson(ensure_ascii=False) }}\n{%- endfor -%}\n{{ '\\n' }}end\n{%- endmacro -%}\n{{ render(['é', 1]) }}", {}),
    ("whitespace_mixed_markers", "A\n  {{- 'b' }}\n  {% if true -%}\n   c\n  {%- endif %}\nD\n\t{%- if true %}  e  {% endif -%}\n  F", {}),
    ("items_value_types", "{% for k, v in args.items() %}{{ k }}={{ v if v is string else (v | tojson) }};{% endfor %}", {"args": {"a": "x", "b": [1, {"c": None}], "n": 1.5}}),
    ("raise_exception", "before{{ raise_exception('custom failure') }}", {}),
    ("strftime_now", "{{ strftime_now('%Y-%m-%d') }} {{ strftime_now('%d %b %Y') }}", {}),
    ("error_undefined_attr", "{{ nothing.attr }}", {}),
    ("error_add_types", "{{ 'a' + 1 }}", {}),
    ("error_unknown_filter", "{{ x|no_such_filter }}", {}),
    ("error_unclosed_if", "{% if true %}x", {}),
    ("error_list_append", "{% set l = [] %}{{ l.append(1) }}", {}),
]


def feature_cases(env):
    cases = []
    for name, source, context in FEATURES:
        case = {"name": name, "template": source, "context": context}
        case.update(render(env, source, context))
        cases.append(case)
    return cases


def main():
    env = make_env()
    OUT.mkdir(parents=True, exist_ok=True)
    header = {
        "command": COMMAND,
        "jinja2_version": jinja2.__version__,
        "environment": "ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]), HF tojson/raise_exception/strftime_now",
        "now": [FIXED_NOW.year, FIXED_NOW.month, FIXED_NOW.day, FIXED_NOW.hour, FIXED_NOW.minute, FIXED_NOW.second],
    }
    chat = dict(header, cases=chat_cases(env))
    (OUT / "chat_templates.json").write_text(json.dumps(chat, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    features = dict(header, cases=feature_cases(env))
    (OUT / "jinja_features.json").write_text(json.dumps(features, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(chat['cases'])} chat cases, {len(features['cases'])} feature cases -> {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
