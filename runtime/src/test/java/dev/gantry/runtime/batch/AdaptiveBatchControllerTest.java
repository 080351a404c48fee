package dev.gantry.runtime.batch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.batch.Decision.Action;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The controller on step timings: closed-loop runs against a simulated model whose step time follows the
 * batch shape, and recorded traces replayed as they came.
 */
class AdaptiveBatchControllerTest {

    private static final long MS = 1_000_000L;

    /** Step time in milliseconds of a batch with {@code active} sequences and {@code prompt} prompt tokens. */
    interface Cost {
        double stepMs(int active, int prompt);
    }

    /** Linear in the batch rows: a fixed cost per step plus a cost per token. */
    static Cost linear(double fixedMs, double perSequenceMs, double perPromptTokenMs) {
        return (a, p) -> fixedMs + perSequenceMs * a + perPromptTokenMs * p;
    }

    /** Linear up to {@code knee} sequences; beyond it the GPU is saturated and tokens per second stay flat. */
    static Cost saturating(double fixedMs, double perSequenceMs, int knee) {
        double kneeMs = fixedMs + perSequenceMs * knee;
        return (a, p) -> a <= knee ? fixedMs + perSequenceMs * a : a * kneeMs / knee;
    }

    /** One phase of load: this many steps, this cost, this many clients, prompts waiting or not. */
    record Phase(int steps, Cost cost, int clients, boolean promptsWaiting) {}

    /** Runs the controller against the simulated runner; returns every decision. */
    static List<Decision> simulate(AdaptiveBatchController c, Phase... phases) {
        List<Decision> trace = new ArrayList<>();
        Decision d = c.current();
        for (Phase ph : phases) {
            for (int i = 0; i < ph.steps(); i++) {
                int active = Math.min(d.maxActiveSequences(), ph.clients());
                int waiting = ph.clients() - active;
                int prompt = ph.promptsWaiting() ? d.promptBudget() : 0;
                long nanos = (long) (ph.cost().stepMs(active, prompt) * MS);
                d = c.observe(new StepSample(nanos, active, prompt, active, waiting));
                trace.add(d);
            }
        }
        return trace;
    }

    /**
     * A closed-loop case.
     *
     * @param budget    the final prompt budget expected, inclusive range
     * @param sequences the final sequences expected, inclusive range
     * @param seen      actions that must occur
     * @param maxSeen   the most sequences ever allowed
     */
    record Case(String name, BatchLimits limits, List<Phase> phases, int[] budget, int[] sequences,
                List<Action> seen, int maxSeen) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> cases() {
        BatchLimits limits = BatchLimits.defaults(512, 64);
        return Stream.of(
                new Case("step time linear in the batch, under the target at the maxima -> grows to the maxima",
                        limits.startingAt(32, 1),
                        List.of(new Phase(600, linear(8, 0.05, 0.05), 100, true)),
                        new int[] {512, 512}, new int[] {64, 64},
                        List.of(Action.GROW_BUDGET, Action.GROW_SEQUENCES), 64),
                new Case("steps over the target -> the budget shrinks first, then sequences",
                        limits,
                        List.of(new Phase(200, linear(20, 0.5, 0.05), 64, true)),
                        new int[] {32, 32}, new int[] {40, 48},
                        List.of(Action.SHRINK_BUDGET, Action.SHRINK_SEQUENCES), 64),
                new Case("no prompts waiting, steps over the target -> sequences shrink, the budget stays",
                        limits,
                        List.of(new Phase(200, linear(10, 1.0, 0), 64, false)),
                        new int[] {512, 512}, new int[] {20, 40},
                        List.of(Action.SHRINK_SEQUENCES), 64),
                new Case("throughput flat past 32 sequences -> backs off to the knee",
                        limits.startingAt(32, 8),
                        List.of(new Phase(200, saturating(5, 0.05, 32), 64, false)),
                        new int[] {32, 32}, new int[] {32, 32},
                        List.of(Action.GROW_SEQUENCES, Action.PLATEAU_SEQUENCES), 36),
                new Case("past the knee again after the ceiling expires -> probes once more, backs off again",
                        limits.startingAt(32, 8),
                        List.of(new Phase(700, saturating(5, 0.05, 32), 64, false)),
                        new int[] {32, 32}, new int[] {32, 32},
                        List.of(Action.PLATEAU_SEQUENCES), 36),
                new Case("heavy load, then it drops -> shrinks, then recovers to the maxima",
                        limits,
                        List.of(new Phase(200, linear(20, 1.0, 0.05), 64, true),
                                new Phase(800, linear(8, 0.05, 0.05), 64, true)),
                        new int[] {512, 512}, new int[] {64, 64},
                        List.of(Action.SHRINK_SEQUENCES, Action.GROW_SEQUENCES, Action.GROW_BUDGET), 64),
                new Case("prompts cost 0.1 ms a token on top of a 15 ms decode (an 8B model on one H200) -> the "
                        + "budget settles near the headroom line, not at its floor",
                        limits,
                        List.of(new Phase(400, linear(5, 0.15, 0.1), 64, true)),
                        new int[] {200, 360}, new int[] {64, 64},
                        List.of(Action.SHRINK_BUDGET), 64),
                new Case("idle clients -> nothing binds, nothing grows",
                        limits.startingAt(64, 4),
                        List.of(new Phase(100, linear(8, 0.05, 0.05), 2, false)),
                        new int[] {64, 64}, new int[] {4, 4}, List.of(), 4));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void closedLoop(Case c) {
        AdaptiveBatchController ctl = new AdaptiveBatchController(c.limits());
        List<Decision> trace = simulate(ctl, c.phases().toArray(Phase[]::new));
        Decision last = trace.getLast();
        assertTrue(last.promptBudget() >= c.budget()[0] && last.promptBudget() <= c.budget()[1], () -> "budget " + last);
        assertTrue(last.maxActiveSequences() >= c.sequences()[0] && last.maxActiveSequences() <= c.sequences()[1],
                () -> "sequences " + last);
        List<Action> actions = trace.stream().map(Decision::action).toList();
        for (Action a : c.seen()) {
            assertTrue(actions.contains(a), () -> a + " never happened: " + summary(trace));
        }
        if (c.seen().isEmpty()) {
            assertTrue(actions.stream().allMatch(a -> a == Action.HOLD), () -> summary(trace));
        }
        int maxSeen = trace.stream().mapToInt(Decision::maxActiveSequences).max().orElseThrow();
        assertTrue(maxSeen <= c.maxSeen(), () -> "reached " + maxSeen + " sequences: " + summary(trace));
        for (Decision d : trace) {
            assertTrue(d.promptBudget() >= c.limits().minBudget() && d.promptBudget() <= c.limits().maxBudget());
            assertTrue(d.maxActiveSequences() >= c.limits().minSequences()
                    && d.maxActiveSequences() <= c.limits().maxSequences());
        }
    }

    @Test
    void budgetShrinksBeforeSequences() {
        List<Decision> trace = simulate(new AdaptiveBatchController(BatchLimits.defaults(512, 64)),
                new Phase(200, linear(20, 0.5, 0.05), 64, true));
        int firstSeqCut = indexOf(trace, Action.SHRINK_SEQUENCES);
        assertTrue(firstSeqCut > 0);
        // by the time sequences are cut, the budget is at its floor
        assertEquals(32, trace.get(firstSeqCut).promptBudget());
        assertEquals(Action.SHRINK_BUDGET, trace.stream().map(Decision::action)
                .filter(a -> a != Action.HOLD).findFirst().orElseThrow());
        // and the steps end up under the target
        Decision last = trace.getLast();
        assertTrue(linear(20, 0.5, 0.05).stepMs(last.maxActiveSequences(), last.promptBudget()) <= 50, last::toString);
    }

    @Test
    void oneSlowStepChangesNothing() {
        // recorded: a steady 30 ms at the maxima, one 500 ms stall, steady again
        AdaptiveBatchController ctl = new AdaptiveBatchController(BatchLimits.defaults(512, 64));
        List<Decision> trace = new ArrayList<>();
        for (int i = 0; i < 41; i++) {
            trace.add(ctl.observe(decode(i == 30 ? 500 : 30, 64)));
        }
        assertTrue(trace.stream().allMatch(d -> d.action() == Action.HOLD && d.promptBudget() == 512
                && d.maxActiveSequences() == 64), () -> summary(trace));
        assertTrue(ctl.averageStepNanos() < 40 * MS, () -> "average " + ctl.averageStepNanos());
    }

    @Test
    void aSustainedSlowdownIsFollowedWithinFourSteps() {
        AdaptiveBatchController ctl = new AdaptiveBatchController(BatchLimits.defaults(512, 64));
        for (int i = 0; i < 20; i++) {
            assertEquals(Action.HOLD, ctl.observe(decode(30, 64)).action());
        }
        int cutAt = -1;
        for (int i = 0; i < 10 && cutAt < 0; i++) {
            if (ctl.observe(decode(90, 64)).action() == Action.SHRINK_SEQUENCES) {
                cutAt = i;
            }
        }
        assertTrue(cutAt >= 0 && cutAt < 4, "cut after " + (cutAt + 1) + " slow steps");
        assertEquals(48, ctl.current().maxActiveSequences());
    }

    /**
     * A wave of new prompts (a dozen steps at the full budget, well over the target) between long stretches of
     * generation leaves the budget alone: the mean step a generation sees stays under the target, and a smaller
     * budget would only make the wave's requests wait longer for their first token. (In a simulation of 128
     * clients it had cut the budget to 250 and raised the median TTFT from 78 to 535 ms.) Steady prompt pressure
     * still shrinks it: see the closed-loop cases.
     */
    @Test
    void aShortWaveOfPromptsDoesNotShrinkTheBudget() {
        AdaptiveBatchController ctl = new AdaptiveBatchController(BatchLimits.defaults(512, 64));
        List<Decision> trace = new ArrayList<>();
        for (int wave = 0; wave < 4; wave++) {
            for (int i = 0; i < 115; i++) {
                trace.add(ctl.observe(new StepSample(20 * MS, 64, 0, 64, 0)));
            }
            for (int i = 0; i < 13; i++) {
                trace.add(ctl.observe(new StepSample(70 * MS, 64, 512, 64, 0)));
            }
        }
        assertTrue(trace.stream().allMatch(d -> d.promptBudget() == 512 && d.maxActiveSequences() == 64),
                () -> summary(trace));
    }

    @Test
    void alternatingNoiseAroundASteadyLevelHoldsStill() {
        // recorded: steps jitter between 20 and 44 ms (mean 32, under the target), nothing binding
        AdaptiveBatchController ctl = new AdaptiveBatchController(BatchLimits.defaults(512, 64));
        for (int i = 0; i < 200; i++) {
            assertEquals(Action.HOLD, ctl.observe(decode(i % 2 == 0 ? 20 : 44, 64)).action());
        }
    }

    /**
     * Waves of new requests make prompt steps slow even at the smallest budget, and fewer sequences would not make
     * them shorter: the budget shrinks; a cut of sequences is tried once, undone when it does not shorten the
     * steps, and not repeated (before, the controller cut 64 sequences down to one, step after step, leaving
     * requests queued for their first token).
     */
    @Test
    void slowPromptStepsDoNotCutSequencesWhileGenerationIsFast() {
        AdaptiveBatchController ctl = new AdaptiveBatchController(BatchLimits.defaults(512, 64));
        List<Decision> trace = new ArrayList<>();
        for (int wave = 0; wave < 5; wave++) {
            for (int i = 0; i < 20; i++) {
                trace.add(ctl.observe(new StepSample(44 * MS, 64, i % 3 == 0 ? 8 : 0, 64, 0)));
            }
            for (int i = 0; i < 30; i++) {
                int budget = ctl.current().promptBudget();
                trace.add(ctl.observe(new StepSample((long) ((44 + 0.2 * budget) * MS), 40, budget, 64, 24)));
            }
        }
        assertTrue(trace.stream().filter(d -> d.action() == Action.SHRINK_SEQUENCES).count() <= 1, () -> summary(trace));
        assertTrue(trace.stream().anyMatch(d -> d.action() == Action.PLATEAU_SEQUENCES), () -> summary(trace));
        assertEquals(64, ctl.current().maxActiveSequences());
        assertTrue(trace.stream().anyMatch(d -> d.action() == Action.SHRINK_BUDGET), () -> summary(trace));
    }

    /**
     * Recorded on an H200 (8B Q4_0, 128 slots): the first step after load took 224 ms for one sequence's three
     * prompt tokens, the next ones 4 ms. That first step, as the first sample, cut the runner to one sequence, and
     * 64 clients later waited seconds for their first token while it grew back eight at a time.
     */
    @Test
    void theSlowFirstStepsAfterLoadCutNothing() {
        AdaptiveBatchController ctl = new AdaptiveBatchController(BatchLimits.defaults(512, 128));
        List<Decision> trace = new ArrayList<>();
        trace.add(ctl.observe(new StepSample(224 * MS, 0, 3, 1, 0)));
        trace.add(ctl.observe(new StepSample(90 * MS, 1, 0, 1, 0)));
        for (int i = 0; i < 200; i++) {
            trace.add(ctl.observe(new StepSample(4 * MS, 1, 0, 1, 0)));
        }
        assertTrue(trace.stream().allMatch(d -> d.maxActiveSequences() == 128), () -> summary(trace));
    }

    /** One sequence over the target on a slow card: capping admission at one would not make its steps shorter. */
    @Test
    void aLoneSlowSequenceIsNotCut() {
        AdaptiveBatchController ctl = new AdaptiveBatchController(BatchLimits.defaults(512, 64));
        List<Decision> trace = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            trace.add(ctl.observe(new StepSample(80 * MS, 1, 0, 1, 0)));
        }
        assertTrue(trace.stream().noneMatch(d -> d.action() == Action.SHRINK_SEQUENCES), () -> summary(trace));
        assertEquals(64, ctl.current().maxActiveSequences());
    }

    /**
     * Recorded on an H100 at 64 clients: the budget grew from 128 to 160 just as the wave of prompts thinned, the next
     * steps were slower for other reasons and carried fewer prompt tokens than the old budget, and the increase was
     * judged a loss: the budget stayed capped at 128 for 256 steps and the next wave queued behind it.
     */
    @Test
    void aBudgetIncreaseThePromptsDidNotUseIsNotJudged() {
        AdaptiveBatchController ctl = new AdaptiveBatchController(BatchLimits.defaults(512, 128).startingAt(128, 128));
        List<Decision> trace = new ArrayList<>();
        for (int i = 0; i < AdaptiveBatchController.WARMUP + 10 && ctl.current().promptBudget() == 128; i++) {
            trace.add(ctl.observe(new StepSample(30 * MS, 64, 128, 64, 8)));
        }
        assertEquals(160, ctl.current().promptBudget(), () -> summary(trace));
        for (int i = 0; i < 6; i++) {
            trace.add(ctl.observe(new StepSample(36 * MS, 64, 100, 64, 0)));
        }
        assertTrue(trace.stream().noneMatch(d -> d.action() == Action.PLATEAU_BUDGET), () -> summary(trace));
        assertEquals(160, ctl.current().promptBudget());
    }

    @Test
    void idleStepsAreIgnored() {
        AdaptiveBatchController ctl = new AdaptiveBatchController(BatchLimits.defaults(512, 64));
        for (int i = 0; i <= AdaptiveBatchController.WARMUP; i++) {
            ctl.observe(decode(30, 64));
        }
        assertEquals(30 * MS, ctl.averageStepNanos(), 1);
        double before = ctl.averageStepNanos();
        assertEquals(Action.HOLD, ctl.observe(new StepSample(5 * MS, 0, 0, 0, 0)).action());
        assertEquals(before, ctl.averageStepNanos());
    }

    @Test
    void limitsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> new BatchLimits(0, 1, 2, 1, 2, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new BatchLimits(MS, 0, 2, 1, 2, 1, 1));
        assertThrows(IllegalArgumentException.class, () -> new BatchLimits(MS, 4, 2, 1, 2, 4, 1));
        assertThrows(IllegalArgumentException.class, () -> BatchLimits.defaults(512, 64).startingAt(1024, 1));
        assertThrows(IllegalArgumentException.class, () -> new StepSample(-1, 0, 0, 0, 0));
        BatchLimits small = BatchLimits.defaults(16, 1);
        assertEquals(16, small.minBudget());
        assertEquals(1, small.sequenceStep());
    }

    /** A decode-only step of {@code active} sequences, nobody waiting. */
    private static StepSample decode(long ms, int active) {
        return new StepSample(ms * MS, active, 0, active, 0);
    }

    private static int indexOf(List<Decision> trace, Action a) {
        for (int i = 0; i < trace.size(); i++) {
            if (trace.get(i).action() == a) {
                return i;
            }
        }
        return -1;
    }

    /** The non-HOLD decisions, for failure messages. */
    private static String summary(List<Decision> trace) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < trace.size(); i++) {
            Decision d = trace.get(i);
            if (d.action() != Action.HOLD) {
                b.append(i).append(':').append(d.action()).append('(').append(d.promptBudget()).append(',')
                        .append(d.maxActiveSequences()).append(") ");
            }
        }
        return b.toString();
    }
}
