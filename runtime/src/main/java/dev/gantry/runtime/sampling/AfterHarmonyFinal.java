package dev.gantry.runtime.sampling;

import java.util.function.IntFunction;

/**
 * A constraint (a request's format) that holds only gpt-oss's answer: its harmony messages before the final channel
 * (reasoning in {@code analysis}, preambles and tool calls in {@code commentary}) are free, and the body of the
 * {@code final} channel's message, after its header's {@code <|message|>}, must fit. Ollama's chat does the same in
 * two passes (reasoning unconstrained, then the final channel with the format); here one generation switches the
 * grammar on. A model that never writes a final message is never held.
 *
 * <p>Not thread-safe: one per sequence, as its sampler.
 */
public final class AfterHarmonyFinal extends HeldAfterStart {
    private static final String CHANNEL = "<|channel|>";
    private static final String MESSAGE = "<|message|>";

    private final IntFunction<String> piece;
    private boolean answering;
    /** The text since the last {@code <|channel|>} while a header is being written; null outside headers. */
    private StringBuilder header;
    /** The last characters written outside a header, for a {@code <|channel|>} split over tokens. */
    private String tail = "";

    /**
     * @param grammar the answer's constraint (closed with this one)
     * @param piece   each token's text, harmony's markers included (llama.cpp renders them for gpt-oss)
     */
    public AfterHarmonyFinal(TokenConstraint grammar, IntFunction<String> piece) {
        super(grammar);
        this.piece = piece;
    }

    /** Whether the final message's body has begun. */
    public boolean answering() {
        return answering;
    }

    @Override
    public boolean allows(int token) {
        return !answering || grammar.allows(token);
    }

    @Override
    public int restrict(float[] logits) {
        return answering ? grammar.restrict(logits) : finite(logits);
    }

    @Override
    public void accept(int token) {
        if (answering) {
            grammar.accept(token);
            return;
        }
        String text = piece.apply(token);
        if (header == null) {
            String seen = tail + text;
            int c = seen.lastIndexOf(CHANNEL);
            if (c < 0) {
                tail = seen.substring(Math.max(0, seen.length() - CHANNEL.length()));
                return;
            }
            header = new StringBuilder(seen.substring(c + CHANNEL.length()));
            tail = "";
        } else {
            header.append(text);
            int again = header.lastIndexOf(CHANNEL);
            if (again >= 0) { // the first was ordinary text: this header is the one after it
                header.delete(0, again + CHANNEL.length());
            }
        }
        int m = header.indexOf(MESSAGE);
        if (m < 0) {
            return;
        }
        String channel = header.substring(0, m).strip();
        int end = 0;
        while (end < channel.length() && !Character.isWhitespace(channel.charAt(end)) && channel.charAt(end) != '<') {
            end++;
        }
        boolean isFinal = channel.substring(0, end).equals("final");
        header = null;
        answering = isFinal;
    }
}
