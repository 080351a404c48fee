package dev.gantry.runtime.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Where new and moved sequences go, from which ids run and which are parked. */
class SequenceIdsTest {
    private final ParkedSlots parked = new ParkedSlots();
    private final SequenceIds ids = new SequenceIds(8, parked);

    private void run(int... running) {
        for (int id : running) {
            ids.take(id);
        }
    }

    private void park(int... slots) {
        for (int id : slots) {
            parked.park(id, new int[] {1, 2, 3}, 3);
        }
    }

    @Test
    void aNewSequenceFillsAHoleOrExtendsTheRunWithoutEvicting() {
        assertEquals(0, ids.fresh(), "none running: the lowest free id");
        park(0);
        assertEquals(1, ids.fresh(), "none running: past a parked slot");
        run(1, 2, 4);
        assertEquals(3, ids.fresh(), "the hole in the run");
        run(3);
        assertEquals(5, ids.fresh(), "the run is whole: the one above it (0, below, is parked)");
        park(5);
        assertEquals(5, ids.fresh(), "0 below and 5 above are both parked: the one above gives way");
    }

    @Test
    void whenEveryCandidateIsParkedTheLowestHoleGivesWay() {
        park(0, 2, 4);
        run(1, 3);
        assertEquals(2, ids.fresh(), "0 below, 2 inside and 4 above are all parked: the hole's slot goes");
    }

    @Test
    void aRunAtTheTopTakesTheIdBelowIt() {
        park(5);
        run(6, 7);
        assertEquals(5, ids.fresh(), "nothing above 7; the one below is parked and gives way");
    }

    @Test
    void theGapIsTheLowestFreeIdInsideTheRun() {
        assertEquals(-1, ids.gap(), "none running");
        run(2, 3, 4);
        assertEquals(-1, ids.gap(), "a run may start above 0");
        run(6);
        assertEquals(5, ids.gap());
        ids.move(6, 5);
        assertEquals(-1, ids.gap());
        assertEquals(5, ids.highest());
    }

    @Test
    void aParkedSlotLeavingAGapGoesTwoAboveTheRun() {
        run(0, 2);
        park(1);
        assertEquals(4, ids.roomAbove(), "3 stays free for new requests");
        park(4, 5, 6, 7);
        assertEquals(3, ids.roomAbove(), "else the one just above");
        park(3);
        assertEquals(-1, ids.roomAbove(), "no free id above the run");
    }
}
