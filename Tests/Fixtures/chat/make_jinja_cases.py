# Golden outputs of Jinja2 itself (as transformers configures it: ImmutableSandboxedEnvironment,
# trim_blocks, lstrip_blocks, loopcontrols, its tojson and raise_exception) for the behaviours
# Tests/ChatTemplateTests/JinjaSubsetTests.swift checks. Run: python3 make_jinja_cases.py > jinja_cases.json
import jinja2, json
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols
def raise_exception(m): raise jinja2.exceptions.TemplateError(m)
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
cases = {
 "trim_lstrip": "  {% if true %}\n    yes\n  {% endif %}\ndone",
 "dash_control": "a  {{- ' b ' -}}  c\n{%- if true %} d{% endif -%}\n e",
 "loop_scope": "{% set x = 1 %}{% for i in [1,2,3] %}{{ x }}{% set x = x + 1 %}{{ x }},{% endfor %}{{ x }}",
 "namespace": "{% set ns = namespace(n=0) %}{% for i in [1,2,3] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}",
 "loop_vars": "{% for c in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.revindex }}|{% endfor %}",
 "filters": "{{ [3,1,2]|length }} {{ ' x '|trim }}|{{ ['a','b']|join('-') }} {{ {'b':1,'a':[1,2.5,none,true]}|tojson }} {{ {'k':'v'}|tojson(indent=2) }}",
 "items_unpack": "{% for k, v in {'a': 1, 'b': 2}|items %}{{ k }}={{ v }};{% endfor %}",
 "select": "{{ [{'r':'u'},{'r':'a'},{'r':'u'}]|selectattr('r','equalto','u')|list|length }} {{ ['x','y','x']|reject('equalto','x')|list }}",
 "methods": "{{ ' a-b '.strip() }}|{{ 'a</t>b</t>c'.split('</t>')[-1] }}|{{ 'xxhixx'.lstrip('x') }}|{{ 'abc'.startswith('ab') }}|{{ {'a':1}.get('b', 'd') }}",
 "slices": "{{ [1,2,3,4][1:] }}{{ [1,2,3,4][::-1] }}{{ 'hello'[1:3] }}{{ [1,2,3][-1] }}",
 "tests": "{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}{{ false is false }}{{ 3 is not none }}",
 "operators": "{{ 7 // 2 }} {{ 7 / 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 'a' ~ 1 ~ none }} {{ 1 if false else 2 }} {{ 'x' in 'xyz' }} {{ 3 not in [1,2] }}",
 "output_python": "{{ true }} {{ none }} {{ 1.0 }} {{ 0.1 + 0.2 }} {{ [1, 'a'] }} {{ {'a': none} }} {{ undefined_name }}|",
 "precedence": "{{ [1,2,3]|length - 1 }} {{ not [1]|length == 1 }} {{ 'a' + 'b'|upper }}",
 "break_continue": "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}",
 "for_else": "{% for i in [] %}x{% else %}empty{% endfor %}",
 "macro": "{% macro greet(name, punct='!') %}hi {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }}",
 "comment": "a\n{# note #}\nb {#- x -#} c",
}
out = {}
for k, t in cases.items():
    out[k] = {"template": t, "output": env.from_string(t).render()}
print(json.dumps(out, ensure_ascii=False, indent=1))
