package dev.gantry.runtime.runner;

import dev.gantry.runtime.engine.EngineSession;
import java.util.List;

/**
 * The KV cells a runner's sequences hold, counted: the running sequences' and the parked slots' (finished
 * generations' cells kept for a request that starts the same way, {@link ParkedSlots}). Cells are freed, kept and
 * cut back through the engine session. Runner thread only.
 */
final class KvCells {
    /** Finished generations whose cells are kept, by sequence id. */
    final ParkedSlots parked = new ParkedSlots();
    /** Cells in the cache: the running sequences' and the parked ones'. */
    private int used;
    private EngineSession session;

    void open(EngineSession session) {
        this.session = session;
    }

    /** A step decoded {@code n} more cells of a running sequence. */
    void decoded(int n) {
        used += n;
    }

    /** A running sequence's context shift dropped {@code n} of its cells. */
    void shifted(int n) {
        used -= n;
    }

    /** Cells taken plus the cells the running sequences will still take. */
    long reserved(List<Sequence> active) {
        long reserved = used;
        for (Sequence a : active) {
            reserved += a.pending();
        }
        return reserved;
    }

    /**
     * Hands a parked slot to a new sequence: keeps its first {@code keep} cells (if the engine can) and frees the
     * rest; returns the cells kept (0: the slot was freed whole).
     */
    int takeOver(int id, int keep) {
        if (keep > 0 && session.keepPrefix(id, keep)) {
            used -= parked.remove(id) - keep;
            return keep;
        }
        evict(id);
        return 0;
    }

    /** Frees a parked slot's cells. */
    void evict(int id) {
        used -= parked.remove(id);
        session.freeSequence(id);
    }

    /** Frees the least recently parked slot other than {@code keep}; false when there is none. */
    boolean evictOldest(int keep) {
        int oldest = parked.oldest(keep);
        if (oldest < 0) {
            return false;
        }
        evict(oldest);
        return true;
    }

    /** Frees every parked slot; false when there was none. */
    boolean evictAll() {
        boolean any = false;
        while (evictOldest(-1)) {
            any = true;
        }
        return any;
    }

    /**
     * A sequence leaves its slot: its cells stay parked there when {@code keep} and it is a generation with at
     * least {@code minReuse} of them, else they are freed.
     */
    void release(Sequence s, boolean keep, int minReuse) {
        if (keep && !s.embedding && s.cached >= minReuse) {
            parked.park(s.id, s.tokens, s.cached, s.scoredPositions);
        } else if (s.cached > 0) {
            session.freeSequence(s.id);
            used -= s.cached;
        }
    }

    /** Whatever holds {@code id} outside the running sequences loses its cells (a parked slot, or stray cells). */
    void clear(int id) {
        if (parked.holds(id)) {
            evict(id);
        } else {
            session.freeSequence(id);
        }
    }

    /** The running sequences' cells and the parked ones, for the counters read by other threads. */
    void publish(RunnerCounters counts) {
        counts.kvCellsUsed = used - parked.cells();
        counts.kvCellsParked = parked.cells();
    }
}
