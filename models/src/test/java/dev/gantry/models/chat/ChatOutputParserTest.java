package dev.gantry.models.chat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Streaming a recorded answer in small pieces gives the same split as the whole answer. */
class ChatOutputParserTest {
    /** Feeds {@code text} in pieces of {@code n} characters; returns thinking, streamed content, and the final. */
    private static String[] feed(ChatOutputParser p, String text, int n, List<ToolCall> calls) {
        StringBuilder thinking = new StringBuilder();
        StringBuilder content = new StringBuilder();
        for (int i = 0; i < text.length(); i += n) {
            var d = p.accept(text.substring(i, Math.min(text.length(), i + n)));
            thinking.append(d.thinking());
            content.append(d.content());
        }
        var f = p.finish();
        thinking.append(f.thinking());
        content.append(f.content());
        calls.addAll(f.toolCalls());
        return new String[] {thinking.toString(), content.toString()};
    }

    @Test
    void thinkingIsSeparatedWhenAsked() {
        String answer = "<think>\nThe user greets me.\n</think>\n\nHello! How can I help?";
        for (int n : new int[] {1, 3, 7, 100}) {
            List<ToolCall> calls = new java.util.ArrayList<>();
            String[] out = feed(new ChatOutputParser(true, false, Set.of()), answer, n, calls);
            assertEquals("The user greets me.\n", out[0], "piece size " + n);
            assertEquals("Hello! How can I help?", out[1], "piece size " + n);
        }
        String[] out = feed(new ChatOutputParser(false, false, Set.of()), answer, 2, new java.util.ArrayList<>());
        assertEquals("", out[0]);
        assertEquals(answer, out[1], "without think the tags stay in the text");
    }

    @Test
    void aPromptThatOpenedThinkingStartsInReasoning() {
        String[] out = feed(new ChatOutputParser(true, true, Set.of()), "Let me see.</think>Yes.", 4,
                new java.util.ArrayList<>());
        assertEquals("Let me see.", out[0]);
        assertEquals("Yes.", out[1]);
    }

    @Test
    void toolCallsAreHeldBackAndParsed() {
        String answer = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
        ChatOutputParser p = new ChatOutputParser(false, false, Set.of("get_weather"));
        for (int i = 0; i < answer.length(); i += 5) {
            assertEquals("", p.accept(answer.substring(i, Math.min(answer.length(), i + 5))).content(),
                    "nothing of a tool call is streamed as text");
        }
        var f = p.finish();
        assertEquals(List.of(new ToolCall("get_weather", Map.of("city", "Paris"))), f.toolCalls());
        assertEquals("", f.content());
    }

    @Test
    void textBeforeACallStreamsAndTheCallIsHeld() {
        List<ToolCall> calls = new java.util.ArrayList<>();
        ChatOutputParser p = new ChatOutputParser(true, false, Set.of("get_weather"));
        String streamed = p.accept("<think>ok</think>Checking the weather. <tool").content()
                + p.accept("_call>{\"name\": \"get_weather\", \"arguments\": {}}</tool_call>").content();
        assertEquals("Checking the weather. ", streamed);
        var f = p.finish();
        assertEquals(List.of(new ToolCall("get_weather", Map.of())), f.toolCalls());
        assertEquals("", f.content());
        String[] out = feed(new ChatOutputParser(false, false, Set.of("get_weather")), "{\"a\": 1}", 2, calls);
        assertEquals("{\"a\": 1}", out[1], "JSON that is no call comes out at the end");
        assertEquals(List.of(), calls);
        out = feed(new ChatOutputParser(false, false, Set.of("get_weather")), "<toolbox> is a word", 3, calls);
        assertEquals("<toolbox> is a word", out[1]);
    }

    /**
     * With a template that tags its tool calls, an answer that starts with JSON streams as it comes, as in Ollama;
     * a tagged call is still held back and parsed. With a bare-JSON template (Llama 3) the JSON waits for its end.
     */
    @Test
    void aTaggingTemplateStreamsJsonAnswersAndStillHoldsItsTag() {
        ChatOutputParser tagged = new ChatOutputParser(false, false, Set.of("get_weather"), false);
        assertEquals("[\"a\", ", tagged.accept("[\"a\", ").content(), "a JSON answer streams");
        assertEquals("\"b\"]", tagged.accept("\"b\"]").content());
        assertEquals("", tagged.finish().content());

        ChatOutputParser call = new ChatOutputParser(false, false, Set.of("get_weather"), false);
        assertEquals("", call.accept("<tool_call>{\"name\": \"get_weather\", ").content());
        assertEquals("", call.accept("\"arguments\": {}}</tool_call>").content());
        assertEquals(List.of(new ToolCall("get_weather", Map.of())), call.finish().toolCalls());

        ChatOutputParser bare = new ChatOutputParser(false, false, Set.of("get_weather"), true);
        assertEquals("", bare.accept("[\"a\", ").content(), "a bare-JSON template holds JSON back");

        assertEquals(true, ToolCallParser.tagsToolCalls("{%- if tools %}<tool_call>{{ t }}</tool_call>{% endif %}"));
        assertEquals(true, ToolCallParser.tagsToolCalls("[TOOL_CALLS] {{ .ToolCalls }}"));
        assertEquals(false, ToolCallParser.tagsToolCalls("<|python_tag|>{{ call }} or {\"name\": ...}"));
        assertEquals(false, ToolCallParser.tagsToolCalls(null));
    }

    /**
     * A plain answer keeps its leading space, as Ollama passes the model's text on (its log probabilities' tokens
     * then spell the content); after reasoning the space goes, as Ollama's thinking parser drops it.
     */
    @Test
    void onlyTheTextAfterReasoningLosesItsLeadingSpace() {
        String[] plain = feed(new ChatOutputParser(false, false, Set.of()), " Once upon", 3, new java.util.ArrayList<>());
        assertEquals(" Once upon", plain[1]);
        String[] reasoned = feed(new ChatOutputParser(true, false, Set.of()), "<think>hm</think>\n Yes", 2,
                new java.util.ArrayList<>());
        assertEquals("hm", reasoned[0]);
        assertEquals("Yes", reasoned[1]);
    }
}
