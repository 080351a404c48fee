package dev.gantry.runtime.runner;

/** The caller's side of a submitted generation. Thread-safe. */
public interface GenerationHandle {
    /**
     * Ends the generation at the runner's next step: its KV cells are freed in that step and the observer gets
     * {@code onFinish} with {@code reason}. Later calls do nothing.
     */
    void finish(FinishReason reason);

    default void cancel() {
        finish(FinishReason.CANCELLED);
    }
}
