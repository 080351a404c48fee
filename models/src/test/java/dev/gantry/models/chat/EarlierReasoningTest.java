package dev.gantry.models.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Reasoning cut from earlier answers, as Ollama does for Qwen 3 and DeepSeek-R1. */
class EarlierReasoningTest {
    @Test
    void onlyAnswersBeforeTheLastUserMessageLoseTheirReasoning() {
        List<ChatMessage> in = List.of(
                ChatMessage.of("system", "<think>kept</think>You help."),
                ChatMessage.of("user", "Hi"),
                ChatMessage.of("assistant", "\n<think>\nweighing it\n</think>\n\nHello!"),
                ChatMessage.of("user", "<think>not mine to cut</think>More?"),
                ChatMessage.of("assistant", "<think>the prefill</think>Sure"));
        List<ChatMessage> out = EarlierReasoning.strip(in);
        assertEquals(List.of("<think>kept</think>You help.", "Hi", "Hello!", "<think>not mine to cut</think>More?",
                "<think>the prefill</think>Sure"), out.stream().map(ChatMessage::content).toList());
    }

    @Test
    void contentWithoutALeadingBlockStaysAsItIs() {
        assertEquals(" plain answer", EarlierReasoning.content(" plain answer"));
        assertEquals("a <think>mid</think> b", EarlierReasoning.content("a <think>mid</think> b"));
        assertEquals("", EarlierReasoning.content("<think>never closed"));
    }

    @Test
    void theFamiliesOllamaFilters() {
        assertTrue(EarlierReasoning.applies("qwen3", "qwen3"));
        assertTrue(EarlierReasoning.applies("llama", "deepseek-r1"));
        assertFalse(EarlierReasoning.applies("qwen3moe", "qwen3-coder"));
        assertFalse(EarlierReasoning.applies("llama", "llama3.2"));
    }
}
