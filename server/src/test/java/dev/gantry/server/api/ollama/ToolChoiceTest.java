package dev.gantry.server.api.ollama;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The grammar a required tool call is held to, in each template family's call syntax. */
class ToolChoiceTest {
    private static final List<Object> TOOLS = List.of(
            Map.of("type", "function", "function", Map.of("name", "get_weather", "parameters",
                    Map.of("type", "object", "properties", Map.of("unit", Map.of("enum", List.of("c", "f")))))),
            Map.of("type", "function", "function", Map.of("name", "get_time")));

    /** Only the keywords the grammar writer cannot take go: a const's value, a definition's name and bounds stay. */
    @Test
    void aPatternGoesAndTheRestOfTheSchemaStays() {
        Map<String, Object> params = Map.of("type", "object", "properties", Map.of(
                "a", Map.of("type", "string", "pattern", "^x$"),
                "n", Map.of("type", "integer", "minimum", 1, "maximum", 3),
                "c", Map.of("const", Map.of("minimum", 7)),
                "d", Map.of("$ref", "#/$defs/not")),
                "$defs", Map.of("not", Map.of("enum", List.of("yes"))));
        String g = ToolChoice.grammar(List.of(Map.of("type", "function", "function",
                Map.of("name", "f", "parameters", params))), "<tool_call>");
        assertTrue(g.contains("minimum") && g.contains("7"), "the const's value as it is: " + g);
        assertTrue(g.contains("yes"), "the definition named like a keyword stays: " + g);
        assertTrue(g.contains("\"1\"") && g.contains("\"3\"") && !g.contains("^x$"), "the range stays, the pattern goes: " + g);
    }

    @Test
    void eachFamilyGetsItsOwnCallSyntax() {
        String hermes = ToolChoice.grammar(TOOLS, "... <tool_call> ...");
        assertTrue(hermes.contains("\"<tool_call>\\n\"") && hermes.contains("\"\\n</tool_call>\""), hermes);
        String nemo = ToolChoice.grammar(TOOLS, "... [TOOL_CALLS] ...");
        assertTrue(nemo.contains("\"[TOOL_CALLS][\"") && nemo.contains("\"]\""), nemo);
        String small32 = ToolChoice.grammar(TOOLS, "... [TOOL_CALLS]{{ name }}[ARGS]{{ arguments }} ...");
        assertTrue(small32.contains("\"[TOOL_CALLS]get_weather[ARGS]\"")
                && small32.contains("\"[TOOL_CALLS]get_time[ARGS]\""), small32);
        assertFalse(small32.contains("arguments"), "the name is outside the JSON: " + small32);
        String llama = ToolChoice.grammar(TOOLS, "<|start_header_id|>ipython<|end_header_id|> <|python_tag|>");
        assertTrue(llama.contains("parameters") && !llama.contains("<tool_call>"), llama);
        assertTrue(ToolChoice.bareJson("<|start_header_id|>") && !ToolChoice.bareJson("[TOOL_CALLS]"));
        String command = ToolChoice.grammar(TOOLS, "<|START_THINKING|> ... <|START_ACTION|>");
        assertTrue(command.contains("\"<|START_ACTION|>[\"") && command.contains("\"]<|END_ACTION|>\"")
                && command.contains("tool_name") && command.contains("tool_call_id"), command);
        String closing = ToolChoice.grammar(TOOLS, "<|START_THINKING|> ... <|START_ACTION|>", true);
        assertTrue(closing.contains("\"<|END_THINKING|><|START_ACTION|>[\""), closing);
    }
}
