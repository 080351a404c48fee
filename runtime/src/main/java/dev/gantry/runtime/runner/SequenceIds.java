package dev.gantry.runtime.runner;

import java.util.BitSet;

/**
 * Which sequence ids a runner's running sequences hold, and where a new or a moved one goes. Each step's tokens go
 * into the batch in id order, and with one KV stream per sequence llama.cpp puts only a run of consecutive,
 * increasing ids into one forward pass ({@code split_equal(sequential)}): shuffled ids once made a step of 64
 * sequences one pass each (209 ms on an H200 instead of about 13), and an id missing from the run makes it two. So
 * the running ids are kept one run, which may start above 0, and parked slots (finished generations' cells, kept
 * for a request that starts the same way) are kept out of its way where that costs no eviction.
 *
 * <p>Bookkeeping only; not thread-safe: owned by its runner's thread.
 */
final class SequenceIds {
    /**
     * Steps a hole in the run must last before {@link #compact} closes it, where the run is longer than
     * {@link #SMALL_RUN}. A move is dear: llama.cpp copies the streams at the next decode and then reserves its
     * worst-case graph again (and drops the graph it would have reused), several milliseconds of host time, while a
     * placeholder adds one token to a step of dozens. On an H200 at 64 clients, 0.13 moves a step (holes closed
     * after 3 steps) made each step's decode 2 ms longer; a hole that lasts this long is not one a new request is
     * about to take.
     */
    static final int GAP_STEPS_BEFORE_MOVE = 64;
    /**
     * Runs of at most this many sequences close their holes after {@link #GAP_STEPS_BEFORE_SMALL_MOVE} steps: at 8
     * tokens a step llama.cpp's CUDA matrix-vector kernels give way to the batched ones, so one placeholder beside
     * 7 sequences made each step 20% longer (two H200s at 16 clients, fourth session).
     */
    static final int SMALL_RUN = 8;
    static final int GAP_STEPS_BEFORE_SMALL_MOVE = 3;
    /** {@code -Dgantry.moveIds=false} leaves lasting gaps to placeholders: for measuring what moving gains. */
    private static final boolean MOVE_IDS = !"false".equals(System.getProperty("gantry.moveIds"));

    private final BitSet running = new BitSet();
    /** Steps {@link #compact} has seen (it is called once a step). */
    private long step;
    /** For each id, the step at which a running sequence last left it (or 0). */
    private final long[] leftAt;
    private final ParkedSlots parked;
    private final int limit;

    /** @param limit the session's sequences: ids are 0 to limit - 1 */
    SequenceIds(int limit, ParkedSlots parked) {
        this.limit = limit;
        this.parked = parked;
        this.leftAt = new long[limit];
    }

    /** How many ids running sequences hold. */
    int count() {
        return running.cardinality();
    }

    void take(int id) {
        running.set(id);
    }

    void release(int id) {
        running.clear(id);
        leftAt[id] = step;
    }

    /** The running sequence at {@code from} is now at {@code to}. */
    void move(int from, int to) {
        running.clear(from);
        leftAt[from] = step;
        running.set(to);
    }

    /** The highest id a running sequence holds; -1 when none runs. */
    int highest() {
        return running.length() - 1;
    }

    /**
     * The id a new sequence takes: the lowest one that neither a running sequence nor a parked slot holds and that
     * keeps the running ids one run (a hole in the run, or next to either end of it; any, when none runs); else such
     * an id whose parked slot must then give way. A parked slot is evicted only when no free id would do.
     */
    int fresh() {
        if (running.isEmpty()) {
            for (int id = 0; id < limit; id++) {
                if (!parked.holds(id)) {
                    return id;
                }
            }
            return 0;
        }
        int min = running.nextSetBit(0);
        int inside = running.nextClearBit(min); // the lowest hole, or one above the highest
        for (int id = running.nextClearBit(Math.max(0, min - 1)); id <= running.length() && id < limit;
                id = running.nextClearBit(id + 1)) {
            if (!parked.holds(id)) {
                return id;
            }
        }
        // every candidate is parked: the lowest hole's (or the one above the run's) slot gives way, else the one below
        return inside < limit ? inside : min - 1;
    }

    /**
     * Closes the run's holes that have lasted long enough ({@link #GAP_STEPS_BEFORE_MOVE}, or
     * {@link #GAP_STEPS_BEFORE_SMALL_MOVE} for a short run), lowest first, each by moving the running sequence with
     * the highest id down into it: a hole that new requests do not fill (a replica whose load shrank) costs every
     * step a placeholder or a second pass. All such holes close in one step, since llama.cpp's dear part (reserving
     * its graph again) comes once for all the copies of one decode. A parked slot in a hole (a finished
     * conversation's cells, kept for its next turn) is moved up first, above the run ({@link #roomAbove}), where it
     * splits no step; where no id above the run is free it is freed instead: a run against the last id otherwise
     * kept such holes, and a placeholder each a step, for good (two H200 replicas behind the router at 128 clients:
     * 3.6 and 9.8 placeholders a step against 0.9 on one GPU). A hole stays, with its placeholders, when the
     * highest sequence cannot move (an embedding input, a sampler on the device). Only where the engine can move a
     * sequence. Call once a step.
     *
     * @return the moves made (the engine's copies)
     */
    int compact(java.util.List<Sequence> active, dev.gantry.runtime.engine.EngineSession session, KvCells cells) {
        step++;
        if (!MOVE_IDS || !session.movesSequences()) {
            return 0;
        }
        int wait = count() <= SMALL_RUN ? GAP_STEPS_BEFORE_SMALL_MOVE : GAP_STEPS_BEFORE_MOVE;
        int moves = 0;
        for (int gap = gap(); gap >= 0; gap = nextGap(gap)) {
            if (step - leftAt[gap] < wait) {
                continue;
            }
            int highest = highest();
            Sequence mover = null;
            for (Sequence s : active) {
                if (s.id == highest) {
                    mover = s;
                }
            }
            if (mover == null || mover.embedding || mover.sampler == null || mover.sampler.onDevice()) {
                break;
            }
            if (parked.holds(gap)) {
                int room = roomAbove();
                if (room < 0) {
                    cells.evict(gap);
                } else {
                    session.moveSequence(gap, room);
                    parked.move(gap, room);
                    moves++;
                }
            }
            session.moveSequence(highest, gap);
            move(highest, gap);
            mover.id = gap;
            moves++;
        }
        return moves;
    }

    /** The next hole in the run above {@code gap}; -1 when there is none. */
    private int nextGap(int gap) {
        int next = running.nextClearBit(gap + 1);
        return next < running.length() ? next : -1;
    }

    /** The lowest id inside the run that no running sequence holds (it may be parked); -1 when the run is whole. */
    int gap() {
        return running.isEmpty() ? -1 : nextGap(running.nextSetBit(0));
    }

    /**
     * Where a parked slot leaving a gap goes: the lowest free id at least two above the run, leaving the one just
     * above it to new requests (when its conversation comes back it takes its slot with at most a small gap to
     * close; the highest free id made gaps of dozens of placeholders), else the one just above; -1 when no free id
     * lies above the run.
     */
    int roomAbove() {
        int highest = highest();
        for (int id = highest + 2; id < limit; id++) {
            if (!parked.holds(id)) {
                return id;
            }
        }
        return highest + 1 < limit && !parked.holds(highest + 1) ? highest + 1 : -1;
    }
}
