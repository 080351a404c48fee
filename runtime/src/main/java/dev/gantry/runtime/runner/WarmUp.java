package dev.gantry.runtime.runner;

import dev.gantry.runtime.engine.EngineSession;

/**
 * Runs a freshly opened GPU session through the batch shapes a runner's steps will have, then frees every cell it
 * used, before the runner takes its first request.
 *
 * <p>Why: CUDA loads a kernel the first time it runs, and llama.cpp picks its matrix kernels by the number of
 * tokens in a pass (one kernel per count up to 8, then by tiles of 8 up to 128, then larger ones). On an H200 each
 * replica's first 100-word prompt took about 150 ms to its first token against 22 for the ones after it
 * (bench/RESULTS.md, 2026-11-28): the first request to each GPU paid for the loading. llama-server runs one
 * two-token pass at start for the same reason; this covers the sizes a continuous batch goes through.
 *
 * <p>The passes: one sequence with 1 to 8 tokens, then 16, 24, 32, 48, 64, 96, 128, 256 and 512 (a prompt's
 * chunks), each from position 0; then 2, 4, 8, ..., up to the batch's capacity sequences of one token each (a
 * decode step). Nothing is sampled and the runner's counters do not see these passes.
 */
public final class WarmUp {
    private static final System.Logger LOG = System.getLogger("gantry.runner");
    /** Token counts of the one-sequence passes. */
    static final int[] PROMPT_SIZES = {1, 2, 3, 4, 5, 6, 7, 8, 16, 24, 32, 48, 64, 96, 128, 256, 512};
    /** Any token of any vocabulary. */
    private static final int TOKEN = 0;

    private WarmUp() {
    }

    /**
     * Warms up runner {@code name}'s session and logs how it went: a failed pass is logged and the runner serves
     * without the rest (only an Error gets out).
     */
    static void warm(String name, EngineSession session, int contextPerSequence) {
        long t0 = System.nanoTime();
        try {
            int passes = run(session, contextPerSequence);
            LOG.log(System.Logger.Level.INFO, "runner {0}: warmed up in {1} ms ({2} passes)", name,
                    (System.nanoTime() - t0) / 1_000_000, passes);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "runner " + name + ": the warm-up failed; serving without it", e);
        }
    }

    /**
     * Runs the passes that fit {@code contextPerSequence} and the session's batch; returns how many ran. A pass the
     * cache has no room for ends the warm-up early; the cells of every pass are freed after it, whatever happens.
     */
    public static int run(EngineSession session, int contextPerSequence) {
        int capacity = session.batchCapacity();
        int passes = 0;
        for (int n : PROMPT_SIZES) {
            if (n > capacity || n > contextPerSequence) {
                break;
            }
            for (int i = 0; i < n; i++) { // an encoder outputs every token (llama.cpp warns of each one not marked)
                session.add(TOKEN, i, 0, i == n - 1 || session.wholeInputs());
            }
            if (!pass(session, 1)) {
                return passes;
            }
            passes++;
        }
        for (int k : stepSizes(Math.min(session.maxSequences(), capacity))) {
            for (int s = 0; s < k; s++) { // ids in order from 0: one micro-batch, as a step's are
                session.add(TOKEN, 0, s, true);
            }
            if (!pass(session, k)) {
                return passes;
            }
            passes++;
        }
        return passes;
    }

    /** The step passes' sequence counts: 2, 4, 8 and so on below {@code most}, then {@code most} (none below 2). */
    static int[] stepSizes(int most) {
        return java.util.stream.IntStream.concat(java.util.stream.IntStream.iterate(2, k -> k < most, k -> 2 * k),
                most >= 2 ? java.util.stream.IntStream.of(most) : java.util.stream.IntStream.empty()).toArray();
    }

    /** Decodes the batch as one pass, then clears it and frees sequences 0..sequences-1; whether the pass ran. */
    private static boolean pass(EngineSession session, int sequences) {
        try {
            if (session.decode() != EngineSession.DecodeStatus.OK) {
                return false;
            }
            session.synchronize();
            return true;
        } finally {
            session.clearBatch();
            for (int s = 0; s < sequences; s++) {
                session.freeSequence(s);
            }
        }
    }
}
