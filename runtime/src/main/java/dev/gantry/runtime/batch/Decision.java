package dev.gantry.runtime.batch;

/**
 * The batch shape a runner should use from its next step on.
 *
 * <p>Immutable and thread-safe.
 *
 * @param promptBudget       prompt tokens the next step may carry
 * @param maxActiveSequences sequences that may decode together; the runner admits no more while at it, and
 *                           never evicts one already running to get under it
 * @param action             what the controller just did, for logs and tests
 */
public record Decision(int promptBudget, int maxActiveSequences, Action action) {

    /** What changed, and why. */
    public enum Action {
        /** Nothing changed. */
        HOLD,
        /** Room under the target and the budget was used up: more prompt tokens per step. */
        GROW_BUDGET,
        /** Room under the target and requests were waiting for a slot: one more step of sequences. */
        GROW_SEQUENCES,
        /** Steps were over the target: half the prompt budget. */
        SHRINK_BUDGET,
        /** Steps were over the target with the budget already small: fewer sequences. */
        SHRINK_SEQUENCES,
        /** The last budget increase made steps slower without more tokens per second: undone. */
        PLATEAU_BUDGET,
        /** The last sequence increase made steps slower without more tokens per second: undone. */
        PLATEAU_SEQUENCES
    }
}
