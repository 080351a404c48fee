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
    /** Token counts of the one-sequence passes. */
    static final int[] PROMPT_SIZES = {1, 2, 3, 4, 5, 6, 7, 8, 16, 24, 32, 48, 64, 96, 128, 256, 512};
    /** Any token of any vocabulary. */
    private static final int TOKEN = 0;

    private WarmUp() {
    }

    /**
     * Runs the passes that fit {@code contextPerSequence} and the session's batch; returns how many ran. A pass the
     * cache has no room for ends the warm-up early; the cells it used are freed either way.
     */
    public static int run(EngineSession session, int contextPerSequence) {
        int capacity = session.batchCapacity();
        int passes = 0;
        int sequencesUsed = 1;
        try {
            for (int n : PROMPT_SIZES) {
                if (n > capacity || n > contextPerSequence) {
                    break;
                }
                session.freeSequence(0);
                session.clearBatch();
                for (int i = 0; i < n; i++) {
                    session.add(TOKEN, i, 0, i == n - 1);
                }
                if (!pass(session)) {
                    return passes;
                }
                passes++;
            }
            session.freeSequence(0);
            int most = Math.min(session.maxSequences(), capacity);
            for (int k = 2; k <= most; k = k < most && 2 * k > most ? most : 2 * k) {
                session.clearBatch();
                for (int s = 0; s < k; s++) { // ids in order from 0: one micro-batch, as a step's are
                    session.add(TOKEN, 0, s, true);
                }
                sequencesUsed = Math.max(sequencesUsed, k);
                boolean ok = pass(session);
                for (int s = 0; s < k; s++) {
                    session.freeSequence(s);
                }
                if (!ok) {
                    return passes;
                }
                passes++;
                if (k == most) {
                    break;
                }
            }
            return passes;
        } finally {
            session.clearBatch();
            for (int s = 0; s < sequencesUsed; s++) {
                session.freeSequence(s);
            }
        }
    }

    private static boolean pass(EngineSession session) {
        if (session.decode() != EngineSession.DecodeStatus.OK) {
            return false;
        }
        session.synchronize();
        return true;
    }
}
