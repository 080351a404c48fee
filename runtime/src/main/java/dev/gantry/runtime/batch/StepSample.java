package dev.gantry.runtime.batch;

/**
 * What one decode step of a runner did, as the runner measured it.
 *
 * <p>Immutable and thread-safe.
 *
 * @param stepNanos        wall time of the step (one {@code llama_decode} and its sampling)
 * @param generatedTokens  tokens generated: one per generating sequence
 * @param promptTokens     prompt tokens processed in the same step
 * @param activeSequences  sequences in the batch
 * @param waitingSequences requests admitted to the runner but not yet in the batch
 */
public record StepSample(long stepNanos, int generatedTokens, int promptTokens, int activeSequences,
                         int waitingSequences) {

    public StepSample {
        if (stepNanos < 0 || generatedTokens < 0 || promptTokens < 0 || activeSequences < 0 || waitingSequences < 0) {
            throw new IllegalArgumentException("negative step sample");
        }
    }

    /** Tokens the step pushed through the model: generated and prompt. */
    public int tokens() {
        return generatedTokens + promptTokens;
    }
}
