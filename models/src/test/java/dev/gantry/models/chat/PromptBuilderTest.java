package dev.gantry.models.chat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PromptBuilderTest {
    private static final String QWEN_LIKE = "{%- if tools %}<|im_start|>system\n# Tools\n{% for t in tools %}"
            + "{{ t | tojson }}\n{% endfor %}<|im_end|>\n{% endif %}{% for m in messages %}<|im_start|>{{ m.role }}\n"
            + "{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{{ c.function | tojson }}</tool_call>"
            + "{% endfor %}{% else %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}"
            + "{% if add_generation_prompt %}<|im_start|>assistant\n{% if enable_thinking is defined and "
            + "not enable_thinking %}<think>\n\n</think>\n\n{% else %}<think>\n{% endif %}{% endif %}";

    private final PromptBuilder builder = new PromptBuilder(new PromptBuilder.Tokens("<s>", "</s>"),
            (t, m, add) -> "builtin:" + m.size());

    /** A tool as a request brings it: keys in the JSON's order (Map.of would iterate in a random order). */
    private static List<Object> tools() {
        Map<String, Object> tool = new java.util.LinkedHashMap<>();
        tool.put("type", "function");
        tool.put("function", Map.of("name", "get_weather"));
        return List.of(tool);
    }

    /** gpt-oss's template: it reasons (harmony), and a think level becomes its reasoning effort. */
    @Test
    void gptOssTakesTheThinkLevelAsItsReasoningEffort() throws Exception {
        java.nio.file.Path file = java.nio.file.Path.of(System.getProperty("gantry.shared", "/work/shared"),
                "llama-data", "chat-templates", "openai-gpt-oss-120b.jinja");
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isRegularFile(file));
        String template = java.nio.file.Files.readString(file);
        assertTrue(PromptBuilder.supportsThinking(template, null));
        List<ChatMessage> messages = List.of(ChatMessage.of("user", "Hi"));
        var high = builder.build(new PromptBuilder.Request(template, null, null, messages, List.of(), true, "high"));
        assertEquals(PromptBuilder.Source.JINJA, high.source());
        assertTrue(high.text().contains("Reasoning: high"), high.text());
        assertTrue(high.text().endsWith("<|start|>assistant"), high.text());
        var plain = builder.build(new PromptBuilder.Request(template, null, null, messages, List.of(), true));
        assertTrue(plain.text().contains("Reasoning: medium"), "the template's default: " + plain.text());
        // Ollama's own gpt-oss template (Go) reads .ThinkLevel: the level as given, true as medium
        String go = "Reasoning: {{ .ThinkLevel }}|{{ range .Messages }}{{ .Content }}{{ end }}";
        assertTrue(builder.build(new PromptBuilder.Request(null, go, null, messages, List.of(), true, "low")).text()
                .startsWith("Reasoning: low|"));
        assertTrue(builder.build(new PromptBuilder.Request(null, go, null, messages, List.of(), true)).text()
                .startsWith("Reasoning: medium|"));
    }

    @Test
    void jinjaWithToolsToolCallsAndThinking() {
        List<ChatMessage> messages = List.of(ChatMessage.of("user", "Weather?"),
                new ChatMessage("assistant", "", null, List.of(new ToolCall("get_weather", Map.of("city", "Paris"))),
                        null),
                new ChatMessage("tool", "21", null, List.of(), "get_weather"));
        var p = builder.build(new PromptBuilder.Request(QWEN_LIKE, null, null, messages, tools(), null));
        assertEquals(PromptBuilder.Source.JINJA, p.source());
        assertTrue(p.text().contains("{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"}}"), p.text());
        assertTrue(p.text().contains("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}"),
                p.text());
        assertTrue(p.text().contains("<|im_start|>tool\n21<|im_end|>"), p.text());
        assertTrue(p.thinkingOpen());
        p = builder.build(new PromptBuilder.Request(QWEN_LIKE, null, null, messages, tools(), false));
        assertFalse(p.thinkingOpen());
        assertTrue(p.text().endsWith("<think>\n\n</think>\n\n"));
        assertTrue(PromptBuilder.supportsThinking(QWEN_LIKE, null));
        assertFalse(PromptBuilder.supportsThinking("{{ messages }}", null));
        // a Go template reasons as Ollama infers it: it writes a message's .Thinking; .Think alone is not enough
        assertTrue(PromptBuilder.supportsThinking(null, "{{ range .Messages }}{{ .Thinking }}{{ end }}"));
        assertFalse(PromptBuilder.supportsThinking(null, "{{ if .Think }}Think. {{ end }}{{ .Prompt }}"));
        assertFalse(PromptBuilder.supportsThinking(null, "{{ if .IsThinkSet }}x{{ end }}{{ .Prompt }}"));
    }

    @Test
    void modelSystemPromptAndLeadingBos() {
        var p = builder.build(new PromptBuilder.Request("{{ bos_token }}{% for m in messages %}[{{ m.role }}]"
                + "{{ m.content }}{% endfor %}", null, "Be brief.", List.of(ChatMessage.of("user", "Hi")), List.of(),
                null));
        assertEquals("[system]Be brief.[user]Hi", p.text(), "the tokenizer adds BOS; the template's is dropped");
    }

    @Test
    void ollamaTemplateFirstThenFallbacks() {
        List<ChatMessage> chat = List.of(ChatMessage.of("system", "S"), ChatMessage.of("user", "Hi"),
                ChatMessage.of("assistant", "Yo"), ChatMessage.of("user", "Again"));
        String go = "{{ if .System }}<sys>{{ .System }}{{ end }}<u>{{ .Prompt }}<a>{{ .Response }}</a>";
        var p = builder.build(new PromptBuilder.Request(QWEN_LIKE, go, null, chat, List.of(), null));
        assertEquals(PromptBuilder.Source.OLLAMA_TEMPLATE, p.source());
        assertEquals("<sys>S<u>Hi<a>Yo</a><u>Again<a>", p.text());
        p = builder.build(new PromptBuilder.Request(QWEN_LIKE, "{{ block \"x\" . }}{{ end }}", null, chat, List.of(),
                null));
        assertEquals(PromptBuilder.Source.JINJA, p.source(), "an unsupported Go template falls back to the GGUF's");
        p = builder.build(new PromptBuilder.Request("{{ raise_exception('no') }}", null, null, chat, List.of(), null));
        assertEquals(PromptBuilder.Source.LLAMA_CPP, p.source());
        assertEquals("builtin:4", p.text());
        p = new PromptBuilder(null, null).build(new PromptBuilder.Request(null, null, null,
                List.of(ChatMessage.of("user", "Hi")), List.of(), null));
        assertEquals(PromptBuilder.Source.PROMPT_ONLY, p.source(), "no template anywhere: Ollama's {{ .Prompt }}");
        assertEquals("Hi", p.text());
        p = new PromptBuilder(null, null).build(new PromptBuilder.Request(null, null, "model system", chat, List.of(),
                null));
        assertEquals("HiYoAgain", p.text(), "Ollama adds {{ .Response }} to a template without it: each turn's "
                + "prompt and answer, no system prompt");
    }

    /** As Ollama's collate: neighbours of one role are one message; tool results stay apart. */
    @Test
    void neighboursOfOneRoleAreMerged() {
        String go = "{{ range .Messages }}<{{ .Role }}>{{ .Content }}{{ end }}";
        var p = builder.build(new PromptBuilder.Request(null, go, null, List.of(ChatMessage.of("system", "A"),
                ChatMessage.of("system", "B"), ChatMessage.of("user", "Hi"), ChatMessage.of("user", "there"),
                ChatMessage.of("tool", "1"), ChatMessage.of("tool", "2"), ChatMessage.of("assistant", "Yo")),
                List.of(), null));
        assertEquals("<system>A\n\nB<user>Hi\n\nthere<tool>1<tool>2<assistant>Yo", p.text());
    }

    /**
     * A one-turn template renders each finished exchange whole and the last up to and with its answer, so an answer
     * the caller began is continued (Ollama cuts the template after {@code .Response}).
     */
    @Test
    void aOneTurnTemplateContinuesAStartedAnswer() {
        String go = "{{ if .System }}<sys>{{ .System }}{{ end }}<u>{{ .Prompt }}<a>{{ .Response }}</a>";
        var p = builder.build(new PromptBuilder.Request(null, go, null, List.of(ChatMessage.of("user", "Hi"),
                ChatMessage.of("assistant", "Yo"), ChatMessage.of("user", "Again"), ChatMessage.of("assistant",
                        "Once")), List.of(), null));
        assertEquals("<u>Hi<a>Yo</a><u>Again<a>Once", p.text());
    }

    @Test
    void templatesWithoutSystemOrToolSupportGetAdjustedTurns() {
        String strict = "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('System role not "
                + "supported') }}{% endif %}<{{ m.role }}>{{ m.content }}{% endfor %}";
        var p = builder.build(new PromptBuilder.Request(strict, null, null, List.of(ChatMessage.of("system", "S"),
                ChatMessage.of("user", "Hi")), List.of(), null));
        assertEquals("<user>S\n\nHi", p.text());
    }
}
