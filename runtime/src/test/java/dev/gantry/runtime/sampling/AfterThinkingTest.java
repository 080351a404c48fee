package dev.gantry.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The format's grammar holds only after the reasoning block, and from the first token of an answer without one. */
class AfterThinkingTest {
    /** The test vocabulary: token i's text. Tokens 0 and 1 are what the fake grammar takes; 12 has no text (an end). */
    private static final String[] PIECES = {
        "{", "}", "<think>", "</think>", "\n", "Let", " me", " see", "<th", "ink>", "</th", "ink>\n\n", "", "Sure",
        "<think>quick</think>", " <", "think>", "</think>{", "ink>{", "<think>quick</think>Sure",
    };
    private static final ThinkTags TAGS = ThinkTags.of(PIECES.length, t -> PIECES[t]);

    /** A grammar that takes "{" then "}", recording what it was given. */
    private static final class Braces implements TokenConstraint {
        final List<Integer> accepted = new ArrayList<>();
        boolean closed;

        @Override
        public boolean allows(int token) {
            return token == (accepted.isEmpty() ? 0 : 1) && accepted.size() < 2;
        }

        @Override
        public int restrict(float[] logits) {
            int n = 0;
            for (int t = 0; t < logits.length; t++) {
                if (!allows(t)) {
                    logits[t] = Float.NEGATIVE_INFINITY;
                } else if (logits[t] > Float.NEGATIVE_INFINITY) {
                    n++;
                }
            }
            return n;
        }

        @Override
        public void accept(int token) {
            assertTrue(allows(token), "the grammar was given a token it does not take: " + PIECES[token]);
            accepted.add(token);
        }

        @Override
        public int endToken() {
            return 12;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private static int token(String piece) {
        return Arrays.asList(PIECES).indexOf(piece);
    }

    private static void feed(AfterThinking c, String... pieces) {
        for (String p : pieces) {
            int t = token(p);
            assertTrue(c.allows(t), "allowed: [" + p + "]");
            c.accept(t);
        }
    }

    @Test
    void reasoningOpenedByThePromptIsFreeUntilItsEnd() {
        Braces g = new Braces();
        AfterThinking c = new AfterThinking(g, t -> PIECES[t], TAGS, true);
        for (int t = 0; t < PIECES.length; t++) {
            assertEquals(!PIECES[t].equals("</think>{") && !PIECES[t].equals("<think>quick</think>Sure"), c.allows(t),
                    "everything goes while reasoning but a close with text after it: " + PIECES[t]);
        }
        feed(c, "Let", " me", " see", "{", "}", "</th", "ink>\n\n");
        assertTrue(c.answering(), "a closing tag split over two tokens ends the reasoning");
        assertTrue(g.accepted.isEmpty(), "the grammar saw none of the reasoning");
        assertFalse(c.allows(token("Sure")));
        assertFalse(c.allows(token("}")));
        feed(c, "{", "}");
        assertEquals(List.of(0, 1), g.accepted);
        assertEquals(12, c.endToken());
        c.close();
        assertTrue(g.closed);
    }

    @Test
    void theModelMayOpenItsReasoningAfterWhitespace() {
        Braces g = new Braces();
        AfterThinking c = new AfterThinking(g, t -> PIECES[t], TAGS, false);
        feed(c, "\n", "<th", "ink>", "Let", "{", "</think>");
        assertTrue(c.answering());
        assertTrue(g.accepted.isEmpty());
        feed(c, "{");
        assertEquals(List.of(0), g.accepted);

        AfterThinking spaced = new AfterThinking(new Braces(), t -> PIECES[t], TAGS, false);
        feed(spaced, " <", "think>", "</think>");
        assertTrue(spaced.answering());

        AfterThinking whole = new AfterThinking(new Braces(), t -> PIECES[t], TAGS, false);
        feed(whole, "<think>quick</think>");
        assertTrue(whole.answering(), "one token that opens and closes the block");
    }

    @Test
    void anAnswerWithoutReasoningIsHeldFromItsFirstToken() {
        Braces g = new Braces();
        AfterThinking c = new AfterThinking(g, t -> PIECES[t], TAGS, false);
        assertFalse(c.allows(token("Sure")), "neither a start of <think> nor what the grammar takes");
        assertFalse(c.allows(token("</think>")));
        assertFalse(c.allows(token("")), "an end of generation before any answer");
        assertTrue(c.allows(token("{")));
        assertTrue(c.allows(token("<th")));
        feed(c, "\n", "{");
        assertTrue(c.answering());
        assertEquals(List.of(0), g.accepted);
        assertFalse(c.allows(token("<think>")), "too late to reason");
        assertThrows(IllegalArgumentException.class, () -> new AfterThinking(new Braces(), t -> PIECES[t], TAGS, false)
                .accept(token("Sure")), "a token neither may take is refused, not passed to llama.cpp");
    }

    /**
     * A refused draw at the start (neither a tag's beginning nor what the grammar takes) begins the answer: the row
     * keeps only what the grammar takes, so the restriction cannot push the model into a block it never opened.
     */
    @Test
    void aRefusedFirstDrawIsRedrawnFromWhatTheGrammarTakes() {
        AfterThinking c = new AfterThinking(new Braces(), t -> PIECES[t], TAGS, false);
        float[] logits = new float[PIECES.length];
        Arrays.fill(logits, 1f);
        int left = c.restrict(logits);
        Set<String> kept = new java.util.TreeSet<>();
        for (int t = 0; t < logits.length; t++) {
            if (logits[t] > Float.NEGATIVE_INFINITY) {
                kept.add(PIECES[t]);
            }
        }
        assertEquals(Set.of("{"), kept);
        assertEquals(kept.size(), left);

        AfterThinking thinking = new AfterThinking(new Braces(), t -> PIECES[t], TAGS, true);
        float[] free = new float[PIECES.length];
        Arrays.fill(free, 1f);
        free[3] = Float.NEGATIVE_INFINITY;
        assertEquals(PIECES.length - 3, thinking.restrict(free));
        assertEquals(1f, free[token("Sure")], "nothing is held while reasoning");
        assertEquals(Float.NEGATIVE_INFINITY, free[token("</think>{")], "but text after the closing tag");
    }

    /** Once a beginning of the tag is written, only its continuation may follow (else "<" would lead the JSON). */
    @Test
    void aBegunTagMustBeFinished() {
        AfterThinking c = new AfterThinking(new Braces(), t -> PIECES[t], TAGS, false);
        feed(c, "<th");
        assertFalse(c.allows(token("{")), "the grammar's token after a half tag");
        assertFalse(c.allows(token("\n")));
        assertTrue(c.allows(token("ink>{")), "what follows the opening is reasoning");
        float[] logits = new float[PIECES.length];
        Arrays.fill(logits, 1f);
        assertEquals(3, c.restrict(logits), "only the continuations: ink>, ink>{ and ink> with line breaks");
        assertEquals(1f, logits[token("ink>")]);
        feed(c, "ink>", "Let", "</th");
        assertFalse(c.allows(token("ink>{")), "a close with the answer's first character in the same token");
        assertTrue(c.allows(token("ink>\n\n")));
    }

    /** A few whitespace tokens are free before the reasoning and after it; then the grammar decides. */
    @Test
    void whitespaceIsFreeForAFewTokens() {
        Braces g = new Braces();
        AfterThinking c = new AfterThinking(g, t -> PIECES[t], TAGS, false);
        for (int i = 0; i < AfterThinking.FREE_BLANKS; i++) {
            feed(c, "\n");
        }
        assertFalse(c.allows(token("\n")), "no more than " + AfterThinking.FREE_BLANKS);
        feed(c, "<think>", "Let", "</think>", "\n", "\n");
        assertTrue(c.answering() && g.accepted.isEmpty());
        assertFalse(c.allows(token("Sure")), "after the whitespace, the grammar");
        feed(c, "{");
        assertEquals(List.of(0), g.accepted, "the grammar saw none of the whitespace");
    }
}
