package dev.gantry.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The format holds gpt-oss's final message only: its reasoning and commentary are free. */
class AfterHarmonyFinalTest {
    /** Token i's text; tokens 0 and 1 are what the fake grammar takes; 11 has no text (an end). */
    private static final String[] PIECES = {
        "{", "}", "<|channel|>", "analysis", "<|message|>", "Think", "<|start|>", "assistant", "final", "commentary",
        " to=functions.f", "", "<|chan", "nel|>", " <|constrain|>json",
    };

    /** A grammar that takes "{" then "}". */
    private static final class Braces implements TokenConstraint {
        final List<Integer> accepted = new ArrayList<>();
        boolean closed;

        @Override
        public boolean allows(int token) {
            return token == (accepted.isEmpty() ? 0 : 1) && accepted.size() < 2;
        }

        @Override
        public int restrict(float[] logits) {
            return 1;
        }

        @Override
        public void accept(int token) {
            assertTrue(allows(token), "the grammar was given " + PIECES[token]);
            accepted.add(token);
        }

        @Override
        public int endToken() {
            return 11;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private static void write(AfterHarmonyFinal c, int... tokens) {
        for (int t : tokens) {
            assertTrue(c.allows(t), "not allowed: " + PIECES[t]);
            c.accept(t);
        }
    }

    @Test
    void reasoningIsFreeAndTheFinalMessageIsHeld() {
        Braces g = new Braces();
        AfterHarmonyFinal c = new AfterHarmonyFinal(g, t -> PIECES[t]);
        write(c, 2, 3, 4, 5, 1, 6, 7); // analysis: anything, even a lone "}"
        assertFalse(c.answering());
        write(c, 2, 8, 4);
        assertTrue(c.answering());
        assertFalse(c.allows(5), "the final message must fit the grammar");
        write(c, 0, 1);
        assertEquals(List.of(0, 1), g.accepted);
        assertEquals(11, c.endToken());
        c.close();
        assertTrue(g.closed);
    }

    @Test
    void commentaryAndToolCallsAreFreeAndASplitMarkerCounts() {
        Braces g = new Braces();
        AfterHarmonyFinal c = new AfterHarmonyFinal(g, t -> PIECES[t]);
        write(c, 2, 9, 10, 14, 4, 5, 1, 6, 7); // a call's arguments: free
        assertFalse(c.answering());
        write(c, 12, 13, 8, 14, 4); // "<|channel|>" in two tokens, a constrained final header
        assertTrue(c.answering());
        write(c, 0);
        assertEquals(List.of(0), g.accepted);
    }

    @Test
    void aMarkerSpelledInTheReasoningDoesNotHideTheFinalHeader() {
        Braces g = new Braces();
        AfterHarmonyFinal c = new AfterHarmonyFinal(g, t -> PIECES[t]);
        write(c, 2, 3, 4, 5, 12, 13, 5); // reasoning that writes "<|channel|>" in ordinary tokens
        write(c, 6, 7, 2, 3, 4, 5); // the next message, analysis again
        assertFalse(c.answering());
        write(c, 6, 7, 2, 8, 4);
        assertTrue(c.answering());
    }
}
