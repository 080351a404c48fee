package dev.gantry.runtime.batch;

/**
 * Bounds and target of an {@link AdaptiveBatchController}.
 *
 * <p>Immutable and thread-safe.
 *
 * @param targetItlNanos   inter-token latency to stay under ({@code GANTRY_ITL_TARGET_MS}); a step's time is
 *                         the latency between two tokens of every generating sequence
 * @param minBudget        the prompt budget never goes below this (prompts must keep moving)
 * @param maxBudget        nor above this (the context's batch size)
 * @param minSequences     at least this many sequences may always run
 * @param maxSequences     at most this many (the runner's slots)
 * @param initialBudget    the budget to start from
 * @param initialSequences the sequences to start from
 */
public record BatchLimits(long targetItlNanos, int minBudget, int maxBudget, int minSequences, int maxSequences,
                          int initialBudget, int initialSequences) {

    /** The default of {@code GANTRY_ITL_TARGET_MS}: 50 ms. */
    public static final long DEFAULT_TARGET_NANOS = 50_000_000L;

    public BatchLimits {
        if (targetItlNanos <= 0) {
            throw new IllegalArgumentException("the ITL target must be positive, not " + targetItlNanos + " ns");
        }
        if (minBudget < 1 || maxBudget < minBudget || minSequences < 1 || maxSequences < minSequences) {
            throw new IllegalArgumentException("budget " + minBudget + ".." + maxBudget + " and sequences "
                    + minSequences + ".." + maxSequences + ": need 1 <= min <= max");
        }
        if (initialBudget < minBudget || initialBudget > maxBudget
                || initialSequences < minSequences || initialSequences > maxSequences) {
            throw new IllegalArgumentException("initial budget " + initialBudget + " and sequences "
                    + initialSequences + " must lie within the bounds");
        }
    }

    /**
     * The defaults for a runner with {@code maxBudget} batch tokens and {@code maxSequences} slots: a 50 ms
     * target, budget down to 32 tokens (or the max, if smaller), sequences down to one, starting at the
     * maxima (where a fixed-size runner would be) so that the target pulls them down only when steps are slow.
     */
    public static BatchLimits defaults(int maxBudget, int maxSequences) {
        return new BatchLimits(DEFAULT_TARGET_NANOS, Math.min(32, maxBudget), maxBudget, 1, maxSequences,
                maxBudget, maxSequences);
    }

    /** The same limits with another target. */
    public BatchLimits withTarget(long nanos) {
        return new BatchLimits(nanos, minBudget, maxBudget, minSequences, maxSequences, initialBudget, initialSequences);
    }

    /** The same limits, starting from other values. */
    public BatchLimits startingAt(int budget, int sequences) {
        return new BatchLimits(targetItlNanos, minBudget, maxBudget, minSequences, maxSequences, budget, sequences);
    }

    /** Budget added per increase: a sixteenth of the range, at least one token. */
    int budgetStep() {
        return Math.max(1, (maxBudget - minBudget + 15) / 16);
    }

    /** Sequences added per increase: a sixteenth of the range, at least one. */
    int sequenceStep() {
        return Math.max(1, (maxSequences - minSequences + 15) / 16);
    }
}
