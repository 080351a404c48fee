package dev.gantry.runtime.runner;

/**
 * A runner's running totals: written by the runner thread only (so a plain increment of a volatile is safe), read
 * by anyone through {@link Runner#stats}. The fields mean what {@link RunnerStats}' components of the same names
 * do.
 */
final class RunnerCounters {
    volatile long steps;
    volatile long batchedSteps;
    volatile int maxSequencesInStep;
    volatile long sequenceSteps;
    volatile long promptTokens;
    volatile long generatedTokens;
    volatile int kvCellsUsed;
    volatile int kvCellsParked;
    volatile long completed;
    volatile long cancelled;
    volatile long preemptions;
    volatile long decodeNanos;
    volatile long waitNanos;
    volatile long sampleNanos;
    volatile long stepNanos;
    volatile long embeddings;
    volatile long mixedSteps;
    volatile long reusedPromptTokens;
    /** Forward passes the engine made of the steps (0 when it does not count them). */
    volatile long forwardPasses;
    /** Gap placeholders decoded. */
    volatile long gapFillers;
    volatile long idMoves;
    volatile long parkedFillers;
    volatile long aheadTokens;

    /** Counts a decode that carried {@code sequences} sequences. */
    void step(int sequences) {
        steps++;
        sequenceSteps += sequences;
        if (sequences > 1) {
            batchedSteps++;
        }
        if (sequences > maxSequencesInStep) {
            maxSequencesInStep = sequences;
        }
    }
}
