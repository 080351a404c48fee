package dev.gantry.runtime.runner;

import dev.gantry.runtime.batch.Decision;

/**
 * A runner's log of the adaptive controller's changes: at most one line a second, saying how the controller reshaped
 * the batch and how many changes the line stands for. Runner thread only.
 */
final class DecisionLog {
    private static final System.Logger LOG = System.getLogger("gantry.runner");

    private final String runner;
    private long lastLine;
    private long changes;

    DecisionLog(String runner) {
        this.runner = runner;
    }

    /** Records a change the controller made after a step; writes a line when the last is a second old. */
    void changed(Decision d, long stepNanos, int prompt, int generating, double averageStepNanos) {
        changes++;
        long now = System.nanoTime();
        if (now - lastLine < 1_000_000_000L) {
            return;
        }
        lastLine = now;
        LOG.log(System.Logger.Level.INFO, "runner {0}: {1} (prompt budget {2}, sequences {3}); step {4} ms with {5} "
                + "prompt tokens and {6} generating, average {7} ms; {8} changes since the last line", runner,
                d.action(), d.promptBudget(), d.maxActiveSequences(), String.format(java.util.Locale.ROOT, "%.1f",
                        stepNanos / 1e6), prompt, generating, String.format(java.util.Locale.ROOT, "%.1f",
                        averageStepNanos / 1e6), changes);
        changes = 0;
    }
}
