package dev.gantry.runtime.runner;

import dev.gantry.runtime.batch.AdaptiveBatchController;
import dev.gantry.runtime.batch.BatchLimits;
import dev.gantry.runtime.batch.Decision;
import dev.gantry.runtime.batch.StepSample;
import java.util.List;

/**
 * A runner's prompt budget and most active sequences a step: as configured with fixed batching (no ITL target);
 * otherwise as the adaptive controller sets them after each step, its changes logged. The limits are read from
 * any thread; {@link #observe} runs on the runner thread.
 */
final class StepLimits {
    /** Null with fixed batching. */
    private final AdaptiveBatchController controller;
    private final DecisionLog log;
    private volatile int promptBudget;
    private volatile int maxActive;

    StepLimits(String runner, RunnerConfig config) {
        this.promptBudget = config.promptBudget();
        this.maxActive = config.maxSequences();
        this.log = new DecisionLog(runner);
        this.controller = config.itlTargetNanos() <= 0 ? null : new AdaptiveBatchController(
                BatchLimits.defaults(config.promptBudget(), config.maxSequences()).withTarget(config.itlTargetNanos()));
    }

    int promptBudget() {
        return promptBudget;
    }

    int maxActive() {
        return maxActive;
    }

    /**
     * What a step carried, read once its batch is filled (before any of its sequences leave).
     *
     * @param nothingGenerates every sequence is an embedding input or a prompt that generates nothing (a prompt
     *                         scored): no answer's token waits on the step
     */
    record Load(int generating, int promptTokens, int sequences, boolean nothingGenerates) {}

    /** {@link #load(List)} where the controller will read it; null with fixed batching (nothing reads it). */
    Load loadIfAdaptive(List<Sequence> active) {
        return controller == null ? null : load(active);
    }

    /** The load of the step {@code active}'s chunks make up. */
    static Load load(List<Sequence> active) {
        int generating = 0;
        int prompt = 0;
        boolean nothingGenerates = true;
        for (Sequence s : active) {
            nothingGenerates &= s.embedding || s.request.promptOnly();
            if (s.chunk == 1 && s.generated > 0) {
                generating++;
            } else {
                prompt += s.chunk;
            }
        }
        return new Load(generating, prompt, active.size(), nothingGenerates);
    }

    /** A step of {@code stepNanos} carried {@code load}, with {@code queued} sequences not admitted. */
    void observe(long stepNanos, Load load, int queued) {
        if (controller == null) {
            return;
        }
        if (load.nothingGenerates()) {
            // no token of anyone's answer waited on this step: the ITL target has nothing to say about it (counted,
            // a model embedding large batches had its prompt budget cut to a tenth with no one generating, and one
            // scoring prompts to a third)
            return;
        }
        int generating = load.generating();
        int prompt = load.promptTokens();
        Decision d = controller.observe(new StepSample(stepNanos, generating, prompt, load.sequences(), queued));
        promptBudget = d.promptBudget();
        maxActive = d.maxActiveSequences();
        if (d.action() != Decision.Action.HOLD) {
            log.changed(d, stepNanos, prompt, generating, controller.averageStepNanos());
        }
    }
}
