package dev.gantry.runtime.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ParkedSlotsTest {
    private static final int[] SYSTEM = {1, 10, 11, 12, 13, 14, 15, 16};

    private static int[] with(int... tail) {
        int[] out = java.util.Arrays.copyOf(SYSTEM, SYSTEM.length + tail.length);
        System.arraycopy(tail, 0, out, SYSTEM.length, tail.length);
        return out;
    }

    @Test
    void theLongestCommonPrefixWinsAndShortOnesDoNot() {
        ParkedSlots p = new ParkedSlots();
        p.park(3, with(20, 21, 22, 99), 11); // holds SYSTEM + 20 21 22
        p.park(5, with(20, 30), 10);
        int[] want = with(20, 21, 22, 23, 24);
        assertEquals(3, p.best(want, want.length - 1, 4));
        assertEquals(11, p.commonPrefix(3, want, want.length - 1));
        assertEquals(-1, p.best(new int[] {1, 10, 99, 98, 97}, 4, 4), "two shared tokens are under the minimum");
        assertEquals(21, p.cells());
    }

    /** A slot moved to another id keeps its tokens and its age; the cells count stays. */
    @Test
    void aMovedSlotKeepsItsTokensAndItsAge() {
        ParkedSlots p = new ParkedSlots();
        p.park(1, with(20, 21), 10);
        p.park(2, with(30), 9);
        p.move(1, 40);
        assertFalse(p.holds(1));
        assertTrue(p.holds(40));
        assertEquals(10, p.length(40));
        assertEquals(40, p.best(with(20, 21, 22), 10, 4));
        assertEquals(40, p.oldest(-1), "still parked before slot 2");
        assertEquals(19, p.cells());
        assertThrows(IllegalStateException.class, () -> p.move(1, 3), "nothing parked at 1");
        assertThrows(IllegalStateException.class, () -> p.move(2, 40), "40 is taken");
    }

    @Test
    void aSequenceKeepsAtLeastOneTokenToDecode() {
        ParkedSlots p = new ParkedSlots();
        p.park(0, SYSTEM, SYSTEM.length);
        assertEquals(SYSTEM.length - 1, p.commonPrefix(0, SYSTEM, SYSTEM.length - 1));
    }

    @Test
    void theOldestGoesFirstAndRemovingGivesItsCellsBack() {
        ParkedSlots p = new ParkedSlots();
        p.park(2, with(1), 9);
        p.park(0, with(2), 9);
        p.park(7, with(3), 9);
        assertEquals(2, p.oldest(-1));
        assertEquals(0, p.oldest(2));
        assertEquals(9, p.remove(2));
        assertFalse(p.holds(2));
        assertTrue(p.holds(7));
        assertEquals(18, p.cells());
        p.park(0, with(4, 5), 10); // parking a slot again replaces what it held
        assertEquals(19, p.cells());
        assertEquals(7, p.oldest(-1));
        p.remove(7);
        p.remove(0);
        assertTrue(p.isEmpty());
        assertEquals(0, p.cells());
        assertEquals(-1, p.oldest(-1));
    }

    /**
     * A slot whose prompt was scored keeps its positions' log probabilities: only such a slot, with as many
     * alternatives as asked, serves a prompt to score; they move with the slot and go when it is taken.
     */
    @Test
    void scoredPositionsGoWithTheirSlot() {
        ParkedSlots p = new ParkedSlots();
        dev.gantry.runtime.sampling.TokenLogprobs[] scored = new dev.gantry.runtime.sampling.TokenLogprobs[11];
        for (int pos = 1; pos < 7; pos++) {
            scored[pos] = new dev.gantry.runtime.sampling.TokenLogprobs(pos, -pos, new int[] {1, 2},
                    new float[] {0, 0});
        }
        p.park(3, with(20, 21, 22), 11, scored);
        p.park(4, with(20, 21, 22, 23), 12); // longer, but not scored
        int[] want = with(20, 21, 22, 23, 24);
        assertEquals(4, p.best(want, want.length - 1, 4));
        assertEquals(3, p.bestScored(want, want.length - 1, 4, 2));
        assertEquals(-1, p.bestScored(want, want.length - 1, 4, 3), "two alternatives a position, not three");
        assertEquals(6, p.scoredUpTo(3), "positions 1 to 6 scored");
        p.move(3, 9);
        assertEquals(scored, p.scored(9));
        assertEquals(null, p.scored(3));
        p.remove(9);
        assertEquals(null, p.scored(9));
        assertEquals(-1, p.bestScored(want, want.length - 1, 4, 0));
    }
}
