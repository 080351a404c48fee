package dev.gantry.models.template;

import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Jinja constructs chat templates use, each against the text Python's Jinja gives. */
class JinjaTemplateTest {
    private static String render(String template, Object... kv) {
        Map<String, Object> ctx = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            ctx.put((String) kv[i], kv[i + 1]);
        }
        return JinjaTemplate.parse(template).withClock(() -> LocalDateTime.of(2026, 7, 26, 9, 5)).render(ctx);
    }

    @Test
    void setIfElifElseAndNamespace() {
        assertEquals("b", render("{% set x = 2 %}{% if x == 1 %}a{% elif x == 2 %}b{% else %}c{% endif %}"));
        assertEquals("3", render("{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + 1 %}"
                + "{% endfor %}{{ ns.n }}"));
        assertEquals("0", render("{% set n = 0 %}{% for i in range(3) %}{% set n = n + 1 %}{% endfor %}{{ n }}"),
                "a set inside a loop does not leak out");
        assertEquals("xy", render("{% set a %}x{{ 'y' }}{% endset %}{{ a }}"));
    }

    @Test
    void loopsWithLoopVariableAndControls() {
        assertEquals("1/0/T/F/3 2/1/F/F/3 3/2/F/T/3 ", render("{% for x in xs %}{{ loop.index }}/{{ loop.index0 }}/"
                + "{{ 'T' if loop.first else 'F' }}/{{ 'T' if loop.last else 'F' }}/{{ loop.length }} {% endfor %}",
                "xs", List.of("a", "b", "c")));
        assertEquals("13", render("{% for x in range(10) %}{% if x == 0 %}{% continue %}{% endif %}"
                + "{% if x == 2 %}{% continue %}{% endif %}{{ x }}{% if x == 3 %}{% break %}{% endif %}{% endfor %}"));
        assertEquals("a=1,b=2,", render("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}",
                "d", Map.of("a", 1, "b", 2).entrySet().stream().sorted(Map.Entry.comparingByKey())
                        .collect(java.util.LinkedHashMap::new, (m, e) -> m.put(e.getKey(), e.getValue()), Map::putAll)));
        assertEquals("empty", render("{% for x in [] %}{{ x }}{% else %}empty{% endfor %}"));
        assertEquals("b", render("{% for x in xs if x != 'a' %}{{ x }}{% endfor %}", "xs", List.of("a", "b")));
        assertEquals("-a", render("{% for x in xs %}{{ loop.previtem | default('-') }}{% endfor %}",
                "xs", List.of("a", "b")));
    }

    @Test
    void macrosWithDefaults() {
        assertEquals("<a:1><b:2>", render("{% macro t(n, v=2) %}<{{ n }}:{{ v }}>{% endmacro %}{{ t('a', 1) }}"
                + "{{ t(n='b') }}"));
    }

    @Test
    void whitespaceControlAsHuggingFaceConfiguresIt() {
        assertEquals("a\nb", render("{% if true %}\na\n{% endif %}\nb"), "trim_blocks");
        assertEquals("x", render("  {% if true %}\nx{% endif %}"), "lstrip_blocks and trim_blocks");
        assertEquals("ab", render("a   {%- if true -%}   \n  b{% endif %}"));
        assertEquals("a b", render("a {{ 'b' }}"), "expressions are not stripped");
        assertEquals("ab", render("a\n  {{- 'b' }}"));
        assertEquals("ab", render("a{# comment #}\nb"));
    }

    @Test
    void filters() {
        assertEquals("x", render("{{ '  x \\n' | trim }}"));
        assertEquals("3", render("{{ [1, 2, 3] | length }}"));
        assertEquals("{\"a\": [1, 2.5, \"é\", null, true]}", render("{{ d | tojson }}",
                "d", Map.of("a", java.util.Arrays.asList(1, 2.5, "é", null, true))));
        assertEquals("{\n  \"a\": 1\n}", render("{{ {'a': 1} | tojson(indent=2) }}"));
        assertEquals("HI hi", render("{{ 'hi' | upper }} {{ 'HI' | lower }}"));
        assertEquals("a-b", render("{{ 'a b' | replace(' ', '-') }}"));
        assertEquals("a, b", render("{{ ['a', 'b'] | join(', ') }}"));
        assertEquals("d|None", render("{{ missing | default('d') }}|{{ none | default('d') }}"));
        assertEquals("a c", render("{{ xs | first }} {{ xs | last }}", "xs", List.of("a", "b", "c")));
        assertEquals("[2]", render("{{ xs | selectattr('k', 'equalto', 2) | map(attribute='k') | list }}",
                "xs", List.of(Map.of("k", 1), Map.of("k", 2))));
        assertEquals("[1]", render("{{ xs | rejectattr('k', 'eq', 2) | map(attribute='k') | list }}",
                "xs", List.of(Map.of("k", 1), Map.of("k", 2))));
        assertEquals("12 Hello", render("{{ '12' | int }} {{ 'hello' | capitalize }}"));
        assertEquals("True 1", render("{{ 5 | string == '5' }} {{ 1 | safe }}"));
        assertEquals("[{'a': 1}]", render("{{ [{'a': 1}] }}"));
    }

    @Test
    void stringAndDictMethods() {
        assertEquals("True False", render("{{ 'abc'.startswith('a') }} {{ 'abc'.endswith('b') }}"));
        assertEquals("['a', 'b']", render("{{ 'a,b'.split(',') }}"));
        assertEquals("x|x |  x|X|a-b|Hello World", render("{{ ' x '.strip() }}|{{ ' x '.lstrip() }}|{{ '  x '.rstrip() }}"
                + "|{{ 'x'.upper() }}|{{ 'a b'.replace(' ', '-') }}|{{ 'hello world'.title() }}"));
        assertEquals("1 d ['k'] [1] k1", render("{{ m.get('k') }} {{ m.get('z', 'd') }} {{ m.keys() | list }} "
                + "{{ m.values() | list }} {% for k, v in m.items() %}{{ k }}{{ v }}{% endfor %}", "m", Map.of("k", 1)));
        assertEquals("a-1", render("{{ '{}-{}'.format('a', 1) }}"));
        assertEquals("b", render("{{ ns.xs.pop(0) }}{{ ns.xs[0] }}".substring(0, 0) + "{% set l = ['a', 'b'] %}"
                + "{% set _ = l.append('c') %}{{ l[1] }}"));
    }

    @Test
    void testsAndOperators() {
        assertEquals("TTTTTTT", render("{{ 'T' if x is defined }}{{ 'T' if y is not defined }}{{ 'T' if n is none }}"
                        + "{{ 'T' if 's' is string }}{{ 'T' if m is mapping }}{{ 'T' if l is iterable }}"
                        + "{{ 'T' if l is sequence }}", "x", 1, "n", null, "m", Map.of(), "l", List.of()));
        assertEquals("TT", render("{{ 'T' if 3 is number }}{{ 'T' if 'a' in 'cat' and 'z' not in ['a'] }}"));
        assertEquals("cba bc a b", render("{{ 'abc'[::-1] }} {{ 'abc'[1:] }} {{ xs[0] }} {{ xs[-1] }}",
                "xs", List.of("a", "b")));
        assertEquals("ab1 ab", render("{{ 'a' ~ 'b' ~ 1 }} {{ 'a' + 'b' }}"));
        assertEquals("True True False", render("{{ 1 < 2 }} {{ 2 >= 2.0 }} {{ 'a' == 'b' }}"));
        assertEquals("3 2.5 2 1", render("{{ 1 + 2 }} {{ 5 / 2 }} {{ 5 // 2 }} {{ 5 % 2 }}"));
    }

    @Test
    void globals() {
        TemplateException e = assertThrows(TemplateException.class,
                () -> render("{{ raise_exception('Roles must alternate') }}"));
        assertTrue(e.getMessage().contains("Roles must alternate"), e.getMessage());
        assertEquals("26 Jul 2026", render("{{ strftime_now('%d %b %Y') }}"));
        assertEquals("[0, 1, 2] [1, 3]", render("{{ range(3) | list }} {{ range(1, 5, 2) | list }}"));
    }

    @Test
    void contextIsRendered() {
        List<Object> messages = new ArrayList<>(List.of(Map.of("role", "user", "content", "Hi")));
        assertEquals("<s>[user] Hi\n[assistant]", render("{{ bos_token }}{% for m in messages %}[{{ m.role }}] "
                        + "{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}",
                "messages", messages, "bos_token", "<s>", "add_generation_prompt", true));
    }

    @Test
    void syntaxErrorsSayWhere() {
        TemplateException e = assertThrows(TemplateException.class, () -> JinjaTemplate.parse("a\n{% if x %}b"));
        assertTrue(e.getMessage().contains("endif"), e.getMessage());
        assertThrows(TemplateException.class, () -> JinjaTemplate.parse("{{ x | }}"));
        assertThrows(TemplateException.class, () -> render("{{ undefined_function() }}"));
    }
}
