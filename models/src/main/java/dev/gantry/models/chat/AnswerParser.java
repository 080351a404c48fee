package dev.gantry.models.chat;

/**
 * Splits a model's streamed answer into reasoning, text and tool calls as it arrives: {@link ChatOutputParser} for
 * answers with {@code <think>} blocks and tagged or JSON tool calls, {@link HarmonyParser} for gpt-oss's harmony
 * messages. Not thread-safe: one per generation, fed in order.
 */
public interface AnswerParser {
    /** Takes the next text of the answer; returns what can be sent now. */
    ChatOutputParser.Delta accept(String text);

    /** Ends the answer: what was held back, and the tool calls. */
    ChatOutputParser.Final finish();
}
