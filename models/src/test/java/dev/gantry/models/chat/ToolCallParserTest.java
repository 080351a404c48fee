package dev.gantry.models.chat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Tool calls in answers recorded from real models, in each family's format. */
class ToolCallParserTest {
    private static final Set<String> TOOLS = Set.of("get_weather", "get_time");

    @Test
    void qwenAndHermesToolCallTags() {
        // Qwen2.5-7B-Instruct
        var r = ToolCallParser.parse("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
                + "</tool_call>", TOOLS);
        assertEquals(List.of(new ToolCall("get_weather", Map.of("city", "Paris"))), r.toolCalls());
        assertEquals("", r.content());
        // Qwen3 after some text, two calls
        r = ToolCallParser.parse("I will check both.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                + "{\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": "
                + "{\"zone\": \"CET\"}}\n</tool_call>", TOOLS);
        assertEquals(List.of(new ToolCall("get_weather", Map.of("city", "Paris")),
                new ToolCall("get_time", Map.of("zone", "CET"))), r.toolCalls());
        assertEquals("I will check both.", r.content());
    }

    @Test
    void llama3JsonWithParameters() {
        var r = ToolCallParser.parse("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", TOOLS);
        assertEquals(List.of(new ToolCall("get_weather", Map.of("city", "Paris"))), r.toolCalls());
        r = ToolCallParser.parse("<|python_tag|>{\"type\": \"function\", \"name\": \"get_time\", \"parameters\": {}}",
                TOOLS);
        assertEquals(List.of(new ToolCall("get_time", Map.of())), r.toolCalls());
    }

    @Test
    void mistralToolCalls() {
        var r = ToolCallParser.parse("[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, "
                + "\"id\": \"abcdefghi\"}]", TOOLS);
        assertEquals(List.of(new ToolCall("get_weather", Map.of("city", "Paris"))), r.toolCalls());
        r = ToolCallParser.parse("[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}", TOOLS);
        assertEquals(List.of(new ToolCall("get_weather", Map.of("city", "Paris"))), r.toolCalls());
    }

    @Test
    void plainJsonAndStringArguments() {
        var r = ToolCallParser.parse("```json\n[{\"function\": {\"name\": \"get_weather\", \"arguments\": "
                + "\"{\\\"city\\\": \\\"Paris\\\"}\"}}]\n```", TOOLS);
        assertEquals(List.of(new ToolCall("get_weather", Map.of("city", "Paris"))), r.toolCalls());
        r = ToolCallParser.parse("{\"tool_calls\": [{\"name\": \"get_time\", \"arguments\": {}}]}", TOOLS);
        assertEquals(List.of(new ToolCall("get_time", Map.of())), r.toolCalls());
    }

    @Test
    void textAndForeignJsonStayText() {
        var r = ToolCallParser.parse("The weather in Paris is sunny.", TOOLS);
        assertEquals(List.of(), r.toolCalls());
        assertEquals("The weather in Paris is sunny.", r.content());
        String json = "{\"name\": \"Alice\", \"age\": 30}";
        r = ToolCallParser.parse(json, TOOLS);
        assertEquals(List.of(), r.toolCalls(), "JSON naming no known tool is an answer, not a call");
        assertEquals(json, r.content());
        r = ToolCallParser.parse("<tool_call>{\"name\": \"get_weather\", \"argum", TOOLS);
        assertEquals(List.of(), r.toolCalls(), "a cut-off call is not a call");
    }

    /** Qwen3-Coder writes XML inside its tag; Functionary a JSON object after {@code <function=NAME>}. */
    @Test
    void qwen3CoderAndFunctionaryFunctionTags() {
        var r = ToolCallParser.parse("Let me look.\n<tool_call>\n<function=get_weather>\n<parameter=city>\nSan Jose, CA\n"
                + "</parameter>\n<parameter=days>\n3\n</parameter>\n<parameter=opts>\n{\"unit\": \"C\"}\n</parameter>\n"
                + "</function>\n</tool_call>\n<tool_call>\n<function=get_time>\n</function>\n</tool_call>", TOOLS);
        assertEquals(List.of(new ToolCall("get_weather", Map.of("city", "San Jose, CA", "days", 3L,
                "opts", Map.of("unit", "C"))), new ToolCall("get_time", Map.of())), r.toolCalls());
        assertEquals("Let me look.", r.content());
        r = ToolCallParser.parse("<function=get_time>{\"zone\": \"CET\"}</function>", TOOLS);
        assertEquals(List.of(new ToolCall("get_time", Map.of("zone", "CET"))), r.toolCalls());
        assertEquals("", r.content());
    }

    /** DeepSeek V3 and R1 (a fenced JSON after the name) and V3.1 (the name, then JSON). */
    @Test
    void deepSeekToolCalls() {
        String begin = "<\uff5ctool\u2581calls\u2581begin\uff5c>";
        String call = "<\uff5ctool\u2581call\u2581begin\uff5c>";
        String sep = "<\uff5ctool\u2581sep\uff5c>";
        String callEnd = "<\uff5ctool\u2581call\u2581end\uff5c>";
        String end = "<\uff5ctool\u2581calls\u2581end\uff5c>";
        var r = ToolCallParser.parse("Checking." + begin + call + "function" + sep + "get_weather\n```json\n"
                + "{\"city\": \"Paris\"}\n```" + callEnd + end, TOOLS);
        assertEquals(List.of(new ToolCall("get_weather", Map.of("city", "Paris"))), r.toolCalls());
        assertEquals("Checking.", r.content());
        r = ToolCallParser.parse(begin + call + "get_weather" + sep + "{\"city\": \"Oslo\"}" + callEnd + call
                + "get_time" + sep + "{}" + callEnd + end, TOOLS);
        assertEquals(List.of(new ToolCall("get_weather", Map.of("city", "Oslo")), new ToolCall("get_time", Map.of())),
                r.toolCalls());
    }
}
