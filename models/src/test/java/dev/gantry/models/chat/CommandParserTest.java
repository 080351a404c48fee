package dev.gantry.models.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Command R7B / Command A answers as their templates have them written, whole and in every split. */
class CommandParserTest {
    private static final String ANSWER = "<|START_THINKING|>The user wants the weather. I will call the tool."
            + "<|END_THINKING|><|START_ACTION|>[\n    {\"tool_call_id\": \"0\", \"tool_name\": \"get_weather\", "
            + "\"parameters\": {\"city\": \"Paris\"}}\n]<|END_ACTION|>";

    private static String[] run(CommandParser p, List<String> pieces, List<ToolCall> calls) {
        StringBuilder thinking = new StringBuilder();
        StringBuilder content = new StringBuilder();
        for (String piece : pieces) {
            ChatOutputParser.Delta d = p.accept(piece);
            thinking.append(d.thinking());
            content.append(d.content());
        }
        ChatOutputParser.Final f = p.finish();
        thinking.append(f.thinking());
        content.append(f.content());
        calls.addAll(f.toolCalls());
        return new String[] {thinking.toString(), content.toString()};
    }

    @Test
    void reasoningAndAToolCallInEverySplit() {
        for (int size = 1; size <= ANSWER.length(); size++) {
            List<String> pieces = new java.util.ArrayList<>();
            for (int i = 0; i < ANSWER.length(); i += size) {
                pieces.add(ANSWER.substring(i, Math.min(ANSWER.length(), i + size)));
            }
            List<ToolCall> calls = new java.util.ArrayList<>();
            String[] out = run(new CommandParser(false, java.util.Set.of("get_weather")), pieces, calls);
            assertEquals("The user wants the weather. I will call the tool.", out[0], "pieces of " + size);
            assertEquals("", out[1], "pieces of " + size);
            assertEquals(List.of(new ToolCall("get_weather", Map.of("city", "Paris"))), calls, "pieces of " + size);
        }
    }

    @Test
    void anAnswerAfterReasoningTheTemplateOpened() {
        List<ToolCall> calls = new java.util.ArrayList<>();
        String[] out = run(new CommandParser(true, java.util.Set.of()), List.of("Think", "ing.<|END_",
                "THINKING|>\n<|START_RESPONSE|>", "Hello <|there|> x < y<|END_RESPONSE|>"), calls);
        assertEquals("Thinking.", out[0]);
        assertEquals("Hello <|there|> x < y", out[1], "text that only looks like a marker stays");
        assertTrue(calls.isEmpty());
    }

    @Test
    void plainTextAndABrokenActionAreKept() {
        List<ToolCall> calls = new java.util.ArrayList<>();
        java.util.Set<String> tools = java.util.Set.of("f");
        String[] out = run(new CommandParser(false, tools), List.of("Just text <|START_ACTION|>not json"), calls);
        assertEquals("", out[0]);
        assertEquals("Just text not json", out[1]);
        assertTrue(calls.isEmpty());
        out = run(new CommandParser(false, tools), List.of("ends on <|START_THI"), calls);
        assertEquals("ends on <|START_THI", out[1], "a marker cut short is text");
        // a block that is not all calls stays whole, where it was written; trailing junk makes it no list
        out = run(new CommandParser(false, tools), List.of("a<|START_ACTION|>[{\"tool_name\": \"f\", "
                + "\"parameters\": {}}, 5]<|END_ACTION|>b"), calls);
        assertEquals("a[{\"tool_name\": \"f\", \"parameters\": {}}, 5]b", out[1]);
        out = run(new CommandParser(false, tools), List.of("<|START_ACTION|>[{\"tool_name\": \"f\"}] x<|END_ACTION|>"),
                calls);
        assertEquals("[{\"tool_name\": \"f\"}] x", out[1]);
        assertTrue(calls.isEmpty());
        // parameters written as a JSON string are read
        run(new CommandParser(false, tools), List.of("<|START_ACTION|>[{\"tool_name\": \"f\", \"parameters\": "
                + "\"{\\\"a\\\": 1}\"}]<|END_ACTION|>"), calls);
        assertEquals(List.of(new ToolCall("f", Map.of("a", 1))), calls);
    }

    @Test
    void withoutToolsAnActionIsText() {
        List<ToolCall> calls = new java.util.ArrayList<>();
        String[] out = run(new CommandParser(false, java.util.Set.of()), List.of("<|START_ACTION|>[{\"tool_name\": "
                + "\"f\", \"parameters\": {}}]<|END_ACTION|>"), calls);
        assertEquals("[{\"tool_name\": \"f\", \"parameters\": {}}]", out[1]);
        assertTrue(calls.isEmpty(), "no tools, no calls");
    }

    @Test
    void onlyTheLineBreakAfterAMarkerGoes() {
        List<ToolCall> calls = new java.util.ArrayList<>();
        String[] out = run(new CommandParser(false, java.util.Set.of()), List.of("<|START_RESPONSE|>\n    code()\n"
                + "<|END_RESPONSE|>"), calls);
        assertEquals("    code()\n", out[1]);
    }

    @Test
    void commandTemplatesAreKnownByTheirMarkers() {
        assertTrue(CommandParser.isCommand("...<|START_THINKING|>..."));
        assertTrue(CommandParser.isCommand("...<|START_ACTION|>..."));
        assertTrue(CommandParser.isCommand("...<|START_RESPONSE|>..."));
        assertFalse(CommandParser.isCommand("<think></think>"));
    }
}
