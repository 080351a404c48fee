package dev.gantry.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class WaitEstimateTest {
    private static final long MS = 1_000_000;

    @Test
    void nothingUntilEnoughWaitsAreKnown() {
        WaitEstimate w = new WaitEstimate(true);
        for (int i = 0; i < WaitEstimate.MIN_SAMPLES - 1; i++) {
            w.record(6 * MS);
            assertEquals(0, w.sleepNanos(), "after " + (i + 1) + " waits");
        }
        w.record(6 * MS);
        assertEquals((long) (6 * MS * WaitEstimate.FRACTION) - WaitEstimate.MARGIN_NANOS, w.sleepNanos());
    }

    /** The shortest of the last few waits counts: one short step makes the next ones sleep less. */
    @Test
    void theShortestRecentWaitCounts() {
        WaitEstimate w = new WaitEstimate(true);
        for (int i = 0; i < 6; i++) {
            w.record(6 * MS);
        }
        w.record(2 * MS);
        w.record(6 * MS);
        assertEquals((long) (2 * MS * WaitEstimate.FRACTION) - WaitEstimate.MARGIN_NANOS, w.sleepNanos());
        for (int i = 0; i < WaitEstimate.WINDOW - 2; i++) { // the short wait is the eighth last now
            w.record(6 * MS);
        }
        assertEquals((long) (2 * MS * WaitEstimate.FRACTION) - WaitEstimate.MARGIN_NANOS, w.sleepNanos(),
                "still in the window");
        w.record(6 * MS);
        assertEquals((long) (6 * MS * WaitEstimate.FRACTION) - WaitEstimate.MARGIN_NANOS, w.sleepNanos(),
                "out of the window");
    }

    @Test
    void shortWaitsAndTheSwitchMeanSpinningFromTheStart() {
        WaitEstimate w = new WaitEstimate(true);
        WaitEstimate off = new WaitEstimate(false);
        for (int i = 0; i < WaitEstimate.WINDOW; i++) {
            w.record(WaitEstimate.MARGIN_NANOS); // three quarters of it is under the margin
            off.record(6 * MS);
        }
        assertEquals(0, w.sleepNanos());
        assertEquals(0, off.sleepNanos());
    }
}
