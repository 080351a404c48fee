package dev.gantry.models.template;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Go text/template constructs of Ollama TEMPLATE layers. */
class GoTemplateTest {
    private static Map<String, Object> data(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Test
    void systemPromptResponseWithTrimming() {
        GoTemplate t = GoTemplate.parse("{{ if .System }}<|system|>\n{{ .System }}<|end|>\n{{ end }}"
                + "{{ if .Prompt }}<|user|>\n{{ .Prompt }}<|end|>\n{{ end }}<|assistant|>\n{{ .Response }}<|end|>");
        assertEquals("<|user|>\nHi<|end|>\n<|assistant|>\nHello<|end|>",
                t.render(data("System", "", "Prompt", "Hi", "Response", "Hello")));
        assertEquals("ab", GoTemplate.parse("a  {{- \" \" -}}  b").render(Map.of()).replace(" ", ""));
        assertEquals("ab", GoTemplate.parse("a\n  {{- /* a comment */ -}}\n  b").render(Map.of()));
        assertFalse(t.usesMessages());
    }

    @Test
    void rangeOverMessagesWithRootAccessAndFunctions() {
        GoTemplate t = GoTemplate.parse("{{- range $i, $m := .Messages }}"
                + "{{- $last := eq (len (slice $.Messages $i)) 1 -}}"
                + "{{ if eq .Role \"user\" }}[U]{{ .Content }}{{ else if eq .Role \"assistant\" }}[A]{{ .Content }}"
                + "{{ else }}[{{ .Role }}]{{ .Content }}{{ end }}"
                + "{{ if and $last (ne .Role \"assistant\") }}[A]{{ end }}{{ end }}"
                + "{{ if $.Tools }} tools={{ json $.Tools }}{{ end }}");
        assertTrue(t.usesMessages());
        List<Object> messages = List.of(data("Role", "system", "Content", "S"), data("Role", "user", "Content", "Hi"),
                data("Role", "assistant", "Content", "Yo"), data("Role", "tool", "Content", "21"));
        assertEquals("[system]S[U]Hi[A]Yo[tool]21[A] tools=[{\"type\":\"function\"}]",
                t.render(data("Messages", messages, "Tools", List.of(Map.of("type", "function")))));
    }

    @Test
    void fieldsFindSnakeCaseKeysAndMapsPrintAsJson() {
        GoTemplate t = GoTemplate.parse("{{ range .Tools }}{{ .Function.Name }}:{{ .Function.Parameters }}{{ end }}"
                + "{{ range .Messages }}{{ range .ToolCalls }}{{ .Function.Arguments }}{{ end }}{{ end }}");
        Map<String, Object> fn = data("name", "get_weather", "parameters", data("type", "object"));
        Map<String, Object> msg = data("ToolCalls", List.of(data("function", data("arguments", data("city", "Paris")))));
        assertEquals("get_weather:{\"type\":\"object\"}{\"city\":\"Paris\"}",
                t.render(data("Tools", List.of(data("function", fn)), "Messages", List.of(msg))));
    }

    /**
     * Lists of plain values print as Go prints a slice, as in Ollama, where a tool schema's {@code required},
     * {@code enum} and several-name {@code type} are Go slices: {@code [string null]}, not JSON.
     */
    @Test
    void listsOfPlainValuesPrintAsGoSlices() {
        GoTemplate t = GoTemplate.parse("{{ range $k, $p := .Properties }}{{ $k }}:{{ $p.Type }} {{ end }}"
                + "req={{ .Required }} enum={{ .Enum }} objs={{ .Objs }}");
        Map<String, Object> props = new java.util.LinkedHashMap<>();
        props.put("city", data("type", "string"));
        props.put("unit", data("type", List.of("string", "null")));
        assertEquals("city:string unit:[string null] req=[city unit] enum=[1 2.5 true] objs=[{\"a\":1}]",
                t.render(data("Properties", props, "Required", List.of("city", "unit"),
                        "Enum", List.of(1L, 2.5, true), "Objs", List.of(Map.of("a", 1L)))));
    }

    @Test
    void unsupportedConstructsFailToParseWithTheReason() {
        TemplateException e = assertThrows(TemplateException.class,
                () -> GoTemplate.parse("{{ define \"x\" }}a{{ end }}{{ template \"x\" }}"));
        assertTrue(e.getMessage().contains("define"), e.getMessage());
        e = assertThrows(TemplateException.class, () -> GoTemplate.parse("{{ toUpper .Prompt }}"));
        assertTrue(e.getMessage().contains("toUpper"), e.getMessage());
        assertFalse(e.isUnsupported(), "a function no one defines is the template's error, as in Go");
        e = assertThrows(TemplateException.class, () -> GoTemplate.parse("{{ html .Prompt }}"));
        assertTrue(e.isUnsupported(), "Go's own, not rendered here: another template is used");
        assertThrows(TemplateException.class, () -> GoTemplate.parse("{{ if .X }}a"));
    }

    /** Go's break and continue in a range, as Ollama's command-r template skips its system messages. */
    @Test
    void breakAndContinueControlTheRangeTheyAreIn() {
        GoTemplate t = GoTemplate.parse("{{- range .Messages }}{{- if eq .Role \"system\" }}{{- continue }}{{- end }}"
                + "[{{ .Content }}]{{ if eq .Content \"stop\" }}{{ break }}{{ end }}{{ end }}!");
        List<Object> msgs = List.of(data("Role", "system", "Content", "S"), data("Role", "user", "Content", "a"),
                data("Role", "user", "Content", "stop"), data("Role", "user", "Content", "b"));
        assertEquals("[a][stop]!", t.render(data("Messages", msgs)));
        // an inner range's break ends only it; the outer one goes on
        GoTemplate nested = GoTemplate.parse("{{ range .A }}{{ range $.B }}{{ . }}{{ break }}{{ end }};{{ end }}");
        assertEquals("1;1;", nested.render(data("A", List.of(1L, 2L), "B", List.of(1L, 2L))));
        for (String bad : List.of("{{ break }}", "{{ range .A }}{{ else }}{{ continue }}{{ end }}",
                "{{ range .A }}{{ break 1 }}{{ end }}")) {
            TemplateException e = assertThrows(TemplateException.class, () -> GoTemplate.parse(bad), bad);
            assertFalse(e.isUnsupported(), bad + ": " + e.getMessage());
        }
    }
}
