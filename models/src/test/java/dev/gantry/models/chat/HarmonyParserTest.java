package dev.gantry.models.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * gpt-oss's harmony answers, as llama.cpp renders them (the channel, message, start and constrain markers shown,
 * {@code <|end|>} not), split into reasoning, text and tool calls, whether they arrive whole or a character at a
 * time.
 */
class HarmonyParserTest {
    /** What the parser made of {@code text}: reasoning, content, calls; fed in pieces of {@code step} characters. */
    private record Split(String thinking, String content, List<ToolCall> calls) {}

    private static Split parse(String text, int step) {
        HarmonyParser p = new HarmonyParser();
        StringBuilder thinking = new StringBuilder();
        StringBuilder content = new StringBuilder();
        for (int i = 0; i < text.length(); i += step) {
            ChatOutputParser.Delta d = p.accept(text.substring(i, Math.min(text.length(), i + step)));
            thinking.append(d.thinking());
            content.append(d.content());
        }
        ChatOutputParser.Final f = p.finish();
        thinking.append(f.thinking());
        content.append(f.content());
        return new Split(thinking.toString(), content.toString(), f.toolCalls());
    }

    private static void sameInEveryPieceSize(String text, Split expected) {
        for (int step : new int[] {text.length(), 1, 2, 3, 5, 7}) {
            assertEquals(expected, parse(text, Math.max(1, step)), "pieces of " + step);
        }
    }

    @Test
    void reasoningThenTheAnswer() {
        sameInEveryPieceSize("<|channel|>analysis<|message|>The user greets. Reply briefly."
                        + "<|start|>assistant<|channel|>final<|message|>Hello! How can I help?",
                new Split("The user greets. Reply briefly.", "Hello! How can I help?", List.of()));
    }

    @Test
    void aToolCallWithJsonArguments() {
        sameInEveryPieceSize("<|channel|>analysis<|message|>Need the weather.<|start|>assistant<|channel|>commentary "
                        + "to=functions.get_weather <|constrain|>json<|message|>{\"location\":\"Paris\",\"days\":2}",
                new Split("Need the weather.", "",
                        List.of(new ToolCall("get_weather", Map.of("location", "Paris", "days", 2)))));
    }

    /** A call whose JSON the answer's length cut short is no call (it would hold made-up arguments). */
    @Test
    void aCallCutShortIsNone() {
        sameInEveryPieceSize("<|channel|>commentary to=functions.add <|constrain|>json<|message|>{ \"a\": 1, \"b",
                new Split("", "", List.of()));
        sameInEveryPieceSize("<|channel|>commentary to=functions.add <|constrain|>json<|message|>not json",
                new Split("", "", List.of(new ToolCall("add", Map.of("input", "not json")))));
    }

    @Test
    void theRecipientMayBeInTheRoleHeader() {
        sameInEveryPieceSize("<|channel|>analysis<|message|>Look it up.<|start|>assistant to=functions.lookup"
                        + "<|channel|>commentary json<|message|>{\"q\":\"x\"}",
                new Split("Look it up.", "", List.of(new ToolCall("lookup", Map.of("q", "x")))));
    }

    @Test
    void theFirstHeaderMayStartWithItsRecipient() {
        sameInEveryPieceSize(" to=functions.get_weather<|channel|>commentary json<|message|>{\"location\":\"Paris\"}",
                new Split("", "", List.of(new ToolCall("get_weather", Map.of("location", "Paris")))));
        sameInEveryPieceSize("today is fine", new Split("", "today is fine", List.of()));
    }

    @Test
    void aBuiltInToolsCallIsACallOfThatName() {
        sameInEveryPieceSize("<|channel|>analysis<|message|>Search it.<|start|>assistant<|channel|>analysis "
                        + "to=browser.search code<|message|>{\"query\":\"x\"}",
                new Split("Search it.", "", List.of(new ToolCall("browser.search", Map.of("query", "x")))));
    }

    @Test
    void aChannelNameEndsAtAnyWhitespace() {
        sameInEveryPieceSize("<|channel|>analysis\n<|message|>r<|start|>assistant<|channel|>final<|message|>a",
                new Split("r", "a", List.of()));
    }

    @Test
    void aNameSpelledAsAnIdentifierIsTheDeclaredTool() {
        HarmonyParser p = new HarmonyParser(java.util.Set.of("get-weather", "ns.lookup"));
        p.accept("<|channel|>commentary to=functions.get_weather<|message|>{}<|start|>assistant<|channel|>commentary"
                + " to=functions.ns_lookup<|message|>{}<|start|>assistant<|channel|>commentary to=functions.other"
                + "<|message|>{}");
        assertEquals(List.of("get-weather", "ns.lookup", "other"),
                p.finish().toolCalls().stream().map(ToolCall::name).toList());
    }

    @Test
    void aPrefilledMessageGoesOnInItsChannel() {
        String prompt = "<|start|>user<|message|>hi<|end|><|start|>assistant<|channel|>analysis<|message|>Let me";
        assertEquals("analysis", HarmonyParser.openChannel(prompt));
        assertEquals("final", HarmonyParser.openChannel("<|start|>assistant<|channel|>final <|constrain|>json"
                + "<|message|>{"));
        assertEquals(null, HarmonyParser.openChannel("<|start|>user<|message|>hi<|end|><|start|>assistant"));
        assertEquals(null, HarmonyParser.openChannel("<|channel|>final<|message|>x<|end|><|start|>assistant"));
        HarmonyParser p = new HarmonyParser(java.util.Set.of(), "analysis");
        ChatOutputParser.Delta d = p.accept(" think.<|start|>assistant<|channel|>final<|message|>Answer");
        assertEquals(" think.", d.thinking());
        assertEquals("Answer", d.content() + p.finish().content());
    }

    @Test
    void aMarkerSpelledInTheReasoningDoesNotNameTheNextMessage() {
        Split s = parse("<|channel|>analysis<|message|>The tag <|channel|> marks it.<|start|>assistant<|channel|>"
                + "analysis<|message|>more<|start|>assistant<|channel|>final<|message|>X", 3);
        assertEquals("X", s.content());
        assertTrue(s.thinking().startsWith("The tag ") && s.thinking().endsWith("more"), s.thinking());
    }

    @Test
    void textThatOnlyLooksLikeARecipientIsText() {
        sameInEveryPieceSize("to=do list: buy milk", new Split("", "to=do list: buy milk", List.of()));
        sameInEveryPieceSize("\n\n<|channel|>final<|message|>x", new Split("", "x", List.of()));
    }

    @Test
    void aPreambleInCommentaryIsText() {
        sameInEveryPieceSize("<|channel|>commentary<|message|>Let me check.<|start|>assistant<|channel|>final"
                        + "<|message|>Done.", new Split("", "Let me check.Done.", List.of()));
    }

    @Test
    void textWithoutHeadersIsTheAnswerAndLessThanSignsPass() {
        sameInEveryPieceSize("1 < 2 and <b>bold</b>", new Split("", "1 < 2 and <b>bold</b>", List.of()));
    }

    @Test
    void renderedEndMarkersAreDropped() {
        sameInEveryPieceSize("<|channel|>analysis<|message|>think<|end|><|start|>assistant<|channel|>final"
                + "<|message|>answer<|return|>", new Split("think", "answer", List.of()));
    }

    @Test
    void argumentsThatAreNotJsonArePassedAsInput() {
        Split s = parse("<|channel|>commentary to=functions.python<|message|>print(1)", 4);
        assertEquals(List.of(new ToolCall("python", Map.of("input", "print(1)"))), s.calls());
    }

    @Test
    void reasoningStreamsBeforeTheAnswerEnds() {
        HarmonyParser p = new HarmonyParser();
        ChatOutputParser.Delta d = p.accept("<|channel|>analysis<|message|>Step one");
        assertEquals("Step one", d.thinking());
        d = p.accept(", step two<|sta");
        assertEquals(", step two", d.thinking(), "a marker's start is held back");
        d = p.accept("rt|>assistant<|channel|>final<|message|>Hi");
        assertEquals("Hi", d.content());
        assertTrue(p.finish().toolCalls().isEmpty());
    }

    @Test
    void gptOssTemplatesAreKnownByTheirMarkers() throws Exception {
        Path dir = Path.of(System.getProperty("gantry.shared", "/work/shared"), "llama-data", "chat-templates");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(dir));
        assertTrue(HarmonyParser.isHarmony(Files.readString(dir.resolve("openai-gpt-oss-120b.jinja"))));
        try (var files = Files.list(dir)) {
            long harmony = files.filter(f -> {
                try {
                    return HarmonyParser.isHarmony(Files.readString(f));
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).count();
            assertEquals(1, harmony, "gpt-oss's alone of the collection");
        }
        assertFalse(HarmonyParser.isHarmony("{{ messages }}<think>"));
    }
}
