package dev.gantry.runtime.runner;

import java.util.Arrays;

/**
 * The sequence slots whose finished generation's KV cells a runner keeps for the next request that starts the same
 * way: for each parked slot, the tokens its cells hold (positions 0 to length - 1) and when it was parked.
 * Bookkeeping only: the runner frees or trims the cells in its session when it evicts or takes over a slot.
 *
 * <p>Not thread-safe: owned by its runner's thread.
 */
final class ParkedSlots {
    private int[][] tokens = new int[0][];
    private long[] parkedAt = new long[0];
    private int count;
    private int cells;
    private long clock;

    /** Whether no slot is parked. */
    boolean isEmpty() {
        return count == 0;
    }

    /** Cells the parked slots hold. */
    int cells() {
        return cells;
    }

    /** Whether slot {@code id} is parked. */
    boolean holds(int id) {
        return id < tokens.length && tokens[id] != null;
    }

    /** Cells slot {@code id} holds (0 when it is not parked). */
    int length(int id) {
        return holds(id) ? tokens[id].length : 0;
    }

    /** Parks slot {@code id} with the first {@code length} of {@code held}: the tokens its cells hold. */
    void park(int id, int[] held, int length) {
        if (id >= tokens.length) {
            int n = Math.max(id + 1, Math.max(8, 2 * tokens.length));
            tokens = Arrays.copyOf(tokens, n);
            parkedAt = Arrays.copyOf(parkedAt, n);
        }
        if (tokens[id] != null) {
            remove(id);
        }
        tokens[id] = Arrays.copyOf(held, length);
        parkedAt[id] = ++clock;
        count++;
        cells += length;
    }

    /**
     * The parked slot sharing the longest prefix with {@code want[0..limit)}, at least {@code min} tokens; -1 when
     * none does.
     */
    int best(int[] want, int limit, int min) {
        int best = -1;
        int bestLength = min - 1;
        for (int id = 0; id < tokens.length && count > 0; id++) {
            if (tokens[id] != null) {
                int n = commonPrefix(id, want, limit);
                if (n > bestLength) {
                    best = id;
                    bestLength = n;
                }
            }
        }
        return best;
    }

    /** Tokens slot {@code id} shares with the start of {@code want[0..limit)}. */
    int commonPrefix(int id, int[] want, int limit) {
        int[] held = tokens[id];
        int max = Math.min(held.length, limit);
        int n = Arrays.mismatch(held, 0, max, want, 0, max);
        return n < 0 ? max : n;
    }

    /** The slot parked longest ago other than {@code except}; -1 when there is none. */
    int oldest(int except) {
        int oldest = -1;
        for (int id = 0; id < tokens.length; id++) {
            if (id != except && tokens[id] != null && (oldest < 0 || parkedAt[id] < parkedAt[oldest])) {
                oldest = id;
            }
        }
        return oldest;
    }

    /** The slot parked at {@code from} is now at {@code to} (its cells moved there), as recently parked as before. */
    void move(int from, int to) {
        if (!holds(from) || holds(to)) {
            throw new IllegalStateException("cannot move parked slot " + from + " to " + to);
        }
        if (to >= tokens.length) {
            int n = Math.max(to + 1, 2 * tokens.length);
            tokens = Arrays.copyOf(tokens, n);
            parkedAt = Arrays.copyOf(parkedAt, n);
        }
        tokens[to] = tokens[from];
        parkedAt[to] = parkedAt[from];
        tokens[from] = null;
    }

    /** Unparks slot {@code id}; returns the cells it held. */
    int remove(int id) {
        int length = tokens[id].length;
        tokens[id] = null;
        count--;
        cells -= length;
        return length;
    }
}
