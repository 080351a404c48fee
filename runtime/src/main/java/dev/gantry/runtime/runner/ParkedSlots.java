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
    /**
     * For a slot whose prompt was scored: each prompt position's log probabilities (from 1; null past those
     * scored), with how many alternatives; a request that scores a prompt starting the same way reports them
     * rather than decode those tokens again. Null elsewhere.
     */
    private dev.gantry.runtime.sampling.TokenLogprobs[][] scored = new dev.gantry.runtime.sampling.TokenLogprobs[0][];
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
        park(id, held, length, null);
    }

    /** {@link #park(int, int[], int)} with the log probabilities of the prompt positions it scored, or null. */
    void park(int id, int[] held, int length, dev.gantry.runtime.sampling.TokenLogprobs[] scoredPositions) {
        if (id >= tokens.length) {
            int n = Math.max(id + 1, Math.max(8, 2 * tokens.length));
            tokens = Arrays.copyOf(tokens, n);
            parkedAt = Arrays.copyOf(parkedAt, n);
            scored = Arrays.copyOf(scored, n);
        }
        if (tokens[id] != null) {
            remove(id);
        }
        scored[id] = scoredPositions;
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

    /**
     * The parked slot whose scored prompt shares the longest prefix with {@code want[0..limit)} and has at least
     * {@code top} alternatives a position, at least {@code min} tokens shared; -1 when none does.
     */
    int bestScored(int[] want, int limit, int min, int top) {
        int best = -1;
        int bestLength = min - 1;
        for (int id = 0; id < tokens.length && count > 0; id++) {
            if (tokens[id] != null && id < scored.length && scored[id] != null && alternatives(id) >= top) {
                int n = commonPrefix(id, want, limit);
                if (n > bestLength) {
                    best = id;
                    bestLength = n;
                }
            }
        }
        return best;
    }

    /** The log probabilities slot {@code id}'s prompt was scored with (by position, from 1), or null. */
    dev.gantry.runtime.sampling.TokenLogprobs[] scored(int id) {
        return holds(id) && id < scored.length ? scored[id] : null;
    }

    /** How many of its prompt's positions slot {@code id} has log probabilities for, from 1 on without a gap. */
    int scoredUpTo(int id) {
        dev.gantry.runtime.sampling.TokenLogprobs[] s = scored(id);
        int p = 0;
        while (s != null && p + 1 < s.length && s[p + 1] != null) {
            p++;
        }
        return p;
    }

    private int alternatives(int id) {
        dev.gantry.runtime.sampling.TokenLogprobs[] s = scored[id];
        return s.length > 1 && s[1] != null ? s[1].topTokens().length : Integer.MAX_VALUE;
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
        if (to >= scored.length) {
            scored = Arrays.copyOf(scored, tokens.length);
        }
        tokens[to] = tokens[from];
        parkedAt[to] = parkedAt[from];
        scored[to] = from < scored.length ? scored[from] : null;
        tokens[from] = null;
        if (from < scored.length) {
            scored[from] = null;
        }
    }

    /** Unparks slot {@code id}; returns the cells it held. */
    int remove(int id) {
        int length = tokens[id].length;
        tokens[id] = null;
        if (id < scored.length) {
            scored[id] = null;
        }
        count--;
        cells -= length;
        return length;
    }
}
