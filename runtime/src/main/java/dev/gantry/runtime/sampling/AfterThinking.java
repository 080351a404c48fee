package dev.gantry.runtime.sampling;

import java.util.function.IntFunction;

/**
 * A constraint (a request's format) that holds only the answer after a reasoning block: the tokens up to and with
 * {@code </think>} are free, those after it must fit. Ollama's chat does the same in two passes (the first without
 * the format until the reasoning ends, the second with it); here one generation switches the grammar on.
 *
 * <p>Unless the prompt already opened the block, the answer may start with {@code <think>} (after whitespace) or
 * answer at once: a token that keeps the text a beginning of {@code <think>} is free, any other must fit the
 * grammar, and from it on the grammar holds. A model that never closes its reasoning is never held (its reasoning
 * runs to the token limit, as in Ollama's first pass).
 *
 * <p>Not thread-safe: one per sequence, as its sampler.
 */
public final class AfterThinking implements TokenConstraint {
    static final String OPEN = "<think>";
    static final String CLOSE = "</think>";

    private enum State { START, THINKING, ANSWER }

    private final TokenConstraint grammar;
    private final IntFunction<String> piece;
    private State state;
    /** START: the text so far without its leading whitespace; THINKING: the last characters, for a split tag. */
    private String text = "";

    /**
     * @param grammar the answer's constraint (closed with this one)
     * @param piece   each token's text
     * @param opened  whether the prompt ended inside an opened reasoning block
     */
    public AfterThinking(TokenConstraint grammar, IntFunction<String> piece, boolean opened) {
        this.grammar = grammar;
        this.piece = piece;
        this.state = opened ? State.THINKING : State.START;
    }

    /** Whether the grammar holds now (the reasoning ended, or the answer began without one). */
    public boolean answering() {
        return state == State.ANSWER;
    }

    @Override
    public boolean allows(int token) {
        return switch (state) {
            case THINKING -> true;
            case ANSWER -> grammar.allows(token);
            case START -> opens(token) || grammar.allows(token);
        };
    }

    @Override
    public int restrict(float[] logits) {
        switch (state) {
            case THINKING -> {
                return finite(logits);
            }
            case ANSWER -> {
                return grammar.restrict(logits);
            }
            default -> {
                float[] fitting = logits.clone();
                grammar.restrict(fitting);
                for (int t = 0; t < logits.length; t++) {
                    // only the tokens the grammar refuses are looked up (rare: a drawn token that did not fit)
                    if (fitting[t] == Float.NEGATIVE_INFINITY && logits[t] != Float.NEGATIVE_INFINITY && !opens(t)) {
                        logits[t] = Float.NEGATIVE_INFINITY;
                    }
                }
                return finite(logits);
            }
        }
    }

    @Override
    public void accept(int token) {
        switch (state) {
            case ANSWER -> grammar.accept(token);
            case THINKING -> {
                String seen = text + piece.apply(token);
                if (seen.contains(CLOSE)) {
                    state = State.ANSWER;
                    text = "";
                } else {
                    text = seen.substring(Math.max(0, seen.length() - (CLOSE.length() - 1)));
                }
            }
            case START -> {
                String p = piece.apply(token);
                String seen = (text + p).stripLeading();
                if (!p.isEmpty() && seen.startsWith(OPEN)) {
                    state = State.THINKING;
                    text = "";
                    accept(seen.substring(OPEN.length())); // the rest of the token may close the block already
                } else if (!p.isEmpty() && OPEN.startsWith(seen)) {
                    text = seen;
                } else {
                    // an answer without reasoning: the grammar holds from this token on
                    if (!grammar.allows(token)) {
                        throw new IllegalArgumentException("token " + token + " does not fit the grammar");
                    }
                    state = State.ANSWER;
                    text = "";
                    grammar.accept(token);
                }
            }
        }
    }

    /** The rest of the opening token, inside the block. */
    private void accept(String rest) {
        if (rest.contains(CLOSE)) {
            state = State.ANSWER;
        } else {
            text = rest.substring(Math.max(0, rest.length() - (CLOSE.length() - 1)));
        }
    }

    /**
     * Whether {@code token} keeps the answer a beginning of the reasoning block (or opens it); a token without text
     * (an end of generation) does not.
     */
    private boolean opens(int token) {
        String p = piece.apply(token);
        if (p.isEmpty()) {
            return false;
        }
        String seen = (text + p).stripLeading();
        return OPEN.startsWith(seen) || seen.startsWith(OPEN);
    }

    private static int finite(float[] logits) {
        int n = 0;
        for (float l : logits) {
            if (l > Float.NEGATIVE_INFINITY) {
                n++;
            }
        }
        return n;
    }

    @Override
    public int endToken() {
        return grammar.endToken();
    }

    @Override
    public void close() {
        grammar.close();
    }
}
