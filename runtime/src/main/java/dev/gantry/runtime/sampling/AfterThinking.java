package dev.gantry.runtime.sampling;

import java.util.function.IntFunction;

/**
 * A constraint (a request's format) that holds only the answer after a reasoning block: the tokens up to and with
 * {@code </think>} are free, those after it must fit. Ollama's chat does the same in two passes (the first without
 * the format until the reasoning ends, the second with it); here one generation switches the grammar on.
 *
 * <p>Unless the prompt already opened the block, the answer may start with {@code <think>} (after whitespace) or
 * answer at once: a token that keeps the text a beginning of {@code <think>} is free (and once such a beginning is
 * written, only its continuation is), any other must fit the grammar, and from it on the grammar holds. A token
 * that closes the block may not carry text after {@code </think>} (the grammar would not have seen it). A few tokens
 * of whitespace are free before the reasoning and after it, where the grammar (which starts at the JSON value) would
 * refuse the line breaks models write there. A model that never closes its reasoning is never held (its reasoning
 * runs to the token limit, as in Ollama's first pass).
 *
 * <p>Not thread-safe: one per sequence, as its sampler.
 */
public final class AfterThinking extends HeldAfterStart {
    static final String OPEN = dev.gantry.models.chat.ChatOutputParser.OPEN;
    static final String CLOSE = dev.gantry.models.chat.ChatOutputParser.CLOSE;
    /** Whitespace tokens free of the grammar before the reasoning block, and again after it. */
    static final int FREE_BLANKS = 4;

    private enum State {
        /** The answer's start: whitespace, a reasoning block's opening, or the grammar's first token. */
        START,
        THINKING,
        /** After {@code </think>}: whitespace, then the grammar's first token. */
        GAP,
        ANSWER
    }

    private final IntFunction<String> piece;
    private final ThinkTags tags;
    private State state;
    /** START: the beginning of {@code <think>} written so far; THINKING: the last characters, for a split tag. */
    private String text = "";
    private int freeBlanks = FREE_BLANKS;

    /**
     * @param grammar the answer's constraint (closed with this one)
     * @param piece   each token's text
     * @param tags    the vocabulary's tag and whitespace tokens, from the same texts
     * @param opened  whether the prompt ended inside an opened reasoning block
     */
    public AfterThinking(TokenConstraint grammar, IntFunction<String> piece, ThinkTags tags, boolean opened) {
        super(grammar);
        this.piece = piece;
        this.tags = tags;
        this.state = opened ? State.THINKING : State.START;
    }

    /** Whether the answer has begun: the reasoning ended, or the answer began without one. */
    public boolean answering() {
        return state == State.GAP || state == State.ANSWER;
    }

    @Override
    public boolean allows(int token) {
        return switch (state) {
            case THINKING -> !closesWithText(token);
            case GAP -> freeBlank(token) || grammar.allows(token);
            case ANSWER -> grammar.allows(token);
            case START -> !text.isEmpty() ? opens(token)
                    : freeBlank(token) || opens(token) || grammar.allows(token);
        };
    }

    @Override
    public int restrict(float[] logits) {
        switch (state) {
            case ANSWER -> {
                return grammar.restrict(logits);
            }
            case THINKING -> {
                for (int t = 0; t < logits.length; t++) {
                    if (tags.mayClose[t] && closesWithText(t)) {
                        logits[t] = Float.NEGATIVE_INFINITY;
                    }
                }
                return finite(logits);
            }
            case GAP -> {
                return grammar.restrict(logits); // the model's own draw was refused: its answer begins
            }
            default -> {
                if (text.isEmpty()) {
                    // the draw neither opened a block nor fit: the answer begins without reasoning, held from here
                    // (keeping the tag's start here would let the grammar push the model into a block it never
                    // meant to open)
                    return grammar.restrict(logits);
                }
                for (int t = 0; t < logits.length; t++) { // a tag the model began: only its continuation
                    if (logits[t] != Float.NEGATIVE_INFINITY && !opens(t)) {
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
            case THINKING -> think(piece.apply(token));
            case GAP -> {
                if (freeBlank(token)) {
                    freeBlanks--;
                } else {
                    answer(token);
                }
            }
            case START -> {
                if (text.isEmpty() && freeBlank(token)) {
                    freeBlanks--;
                } else if (opens(token)) {
                    String seen = text.isEmpty() ? piece.apply(token).stripLeading() : text + piece.apply(token);
                    if (seen.startsWith(OPEN)) {
                        state = State.THINKING;
                        text = "";
                        think(seen.substring(OPEN.length())); // the rest of the token may close the block already
                    } else {
                        text = seen;
                    }
                } else if (text.isEmpty()) {
                    answer(token); // an answer without reasoning: the grammar holds from this token on
                } else {
                    throw new IllegalArgumentException("token " + token + " breaks off the reasoning block's tag");
                }
            }
        }
    }

    /** Reasoning text: the block ends at its closing tag (after which only whitespace may follow in the token). */
    private void think(String more) {
        String seen = text + more;
        if (seen.contains(CLOSE)) {
            state = State.GAP;
            text = "";
            freeBlanks = FREE_BLANKS;
        } else {
            text = seen.substring(Math.max(0, seen.length() - (CLOSE.length() - 1)));
        }
    }

    private void answer(int token) {
        if (!grammar.allows(token)) {
            throw new IllegalArgumentException("token " + token + " does not fit the grammar");
        }
        state = State.ANSWER;
        text = "";
        grammar.accept(token);
    }

    private boolean freeBlank(int token) {
        return freeBlanks > 0 && tags.blank[token];
    }

    /**
     * START: whether {@code token} keeps the text a beginning of {@code <think>}, or opens the block (without text
     * after a closing tag in the same token); never a token of whitespace or no text.
     */
    private boolean opens(int token) {
        if (!tags.mayOpen[token]) {
            return false;
        }
        String seen = text.isEmpty() ? piece.apply(token).stripLeading() : text + piece.apply(token);
        if (seen.startsWith(OPEN)) {
            return !textAfterClose(seen.substring(OPEN.length()));
        }
        return OPEN.startsWith(seen);
    }

    /** THINKING: whether {@code token} closes the block and carries text after the tag. */
    private boolean closesWithText(int token) {
        return tags.mayClose[token] && textAfterClose(text + piece.apply(token));
    }

    private static boolean textAfterClose(String s) {
        int at = s.indexOf(CLOSE);
        return at >= 0 && !s.substring(at + CLOSE.length()).isBlank();
    }
}
