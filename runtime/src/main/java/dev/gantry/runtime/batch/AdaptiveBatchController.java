package dev.gantry.runtime.batch;

import dev.gantry.runtime.batch.Decision.Action;
import java.util.Objects;

/**
 * Adapts a runner's prompt-token budget per step and its number of active sequences, to keep the inter-token
 * latency under a target while throughput still grows. Fed one {@link StepSample} per decode step; answers the
 * batch shape for the next steps. No clock, no I/O: its tests replay recorded or simulated step timings.
 *
 * <p>The rule (additive increase, multiplicative decrease, with a check that an increase paid off):
 * <ol>
 *   <li><b>Warm-up.</b> The first {@value #WARMUP} steps that carry tokens are not counted: a freshly loaded model's
 *       first steps build its kernels and graphs (224 ms for a one-token step of an 8B model on an H200, against 4
 *       ms after), and one of them as the first sample cut a runner to one sequence at load.</li>
 *   <li><b>Smoothing.</b> Step time and tokens per second are averaged with an EWMA ({@value #ALPHA} per
 *       step). A step longer than {@value #OUTLIER_CLAMP} times the average counts as that long, so one
 *       stall (a page fault, a GC pause, a long prompt chunk) moves the average by a fifth at most, while a
 *       real slowdown crosses the target within about four steps.</li>
 *   <li><b>Over target</b> (average step above the target): scale the prompt budget down by headroom line over
 *       average step (at most to nine tenths), if it is above its minimum, the recent steps used more than that
 *       minimum, and a slow average (about a generation's length of steps, {@code 1/SLOW_ALPHA}) is over the
 *       target too: a wave of new prompts makes a dozen heavy steps that a generation hardly feels on average, and
 *       shrinking the budget for it only kept the wave's requests waiting for their first token; otherwise, if
 *       the light steps (prompt tokens at most the budget's floor) average over the target too (at least
 *       {@value #SETTLE} of them seen), cap sequences at three quarters of those active now (while
 *       generation alone is under the target, or has not been seen long enough to tell, the slow average comes
 *       from prompt-heavy steps, and cutting sequences would only queue requests for their first token). A runner
 *       with one sequence running is never cut: that only keeps others out. Then wait {@value #SETTLE} steps for
 *       the average to show the effect. A cut of sequences that did not make steps at least 5% shorter is undone,
 *       and not tried again below that level for {@value #CEILING_HOLD} steps.</li>
 *   <li><b>Probe judged.</b> Each increase is compared: the mean of the {@value #SETTLE} steps before it against
 *       the {@value #SETTLE} after it (skipping the first, still mixed). When the steps became more than 5%
 *       slower but tokens per second rose by less than a fifth of that slowdown, the work is past the knee
 *       (the GPU is saturated, more batch only adds latency): the increase is undone and that value becomes a
 *       ceiling for {@value #CEILING_HOLD} steps, after which the controller probes again (the load may have
 *       changed). A budget increase the steps did not use (fewer prompt tokens than the old budget) proves nothing
 *       either way and stays.</li>
 *   <li><b>Under target with headroom</b> (average below {@value #HEADROOM} of the target): grow a knob that
 *       is binding: sequences (by a sixteenth of their range) when requests are waiting and every allowed slot
 *       is in use; the budget (by a quarter, at least a sixteenth of its range) when the last step used all of it.
 *       When both bind, they take turns.</li>
 * </ol>
 * Idle steps (no tokens) are ignored.
 *
 * <p>Not thread-safe: owned by its runner's thread, like the rest of the runner's state.
 */
public final class AdaptiveBatchController {

    static final int WARMUP = 8;
    static final double ALPHA = 0.2;
    /**
     * Weight of a step in the slow average that gates shrinking the prompt budget: about a generation's length of
     * steps, so a wave of new prompts (a dozen heavy steps) does not shrink it but steady prompt pressure does.
     */
    static final double SLOW_ALPHA = 1.0 / 128;
    /** The most a step counts in the slow average, in times that average (a wave's steps fit; a stall does not). */
    static final double SLOW_CLAMP = 4.0;
    /** Steps the slow average needs before it can shrink the budget (a window's worth). */
    static final int SLOW_STEPS = 128;
    static final double OUTLIER_CLAMP = 2.0;
    static final double HEADROOM = 0.8;
    static final int SETTLE = 4;
    static final int CEILING_HOLD = 256;
    /** Slowdown an increase must cause before it is judged (noise below that says nothing). */
    static final double MIN_COST = 0.05;
    /** The share of the slowdown that must come back as throughput for an increase to stay. */
    static final double EFFICIENCY = 0.2;

    private enum Knob { BUDGET, SEQUENCES }

    private final BatchLimits limits;
    private int budget;
    private int sequences;

    private int warmupLeft = WARMUP;
    private boolean started;
    private double avgStepNanos;
    private double slowStepNanos;
    private int slowCount;
    private double avgPromptTokens;
    // the last cut of sequences, judged once the average has had SETTLE steps to show its effect
    private int cutFrom;
    private double cutFromAvgNanos;
    private int cutSeen = -1;
    private int sequenceFloor;
    private int sequenceFloorLeft;
    /** Average of the light steps (prompt tokens at most the budget's floor): what generation alone costs. */
    private double avgLightNanos;
    /** Light steps seen so far (the average above means something once there is one). */
    private int lightCount;
    private int cooldown;
    private Knob lastGrown = Knob.BUDGET;

    // the last SETTLE steps, clamped: the baseline an increase is judged against
    private final long[] recentNanos = new long[SETTLE];
    private final long[] recentTokens = new long[SETTLE];
    private int recentCount;

    // the increase being judged
    private Knob probe;
    private int probeFrom;
    private double baseStepNanos;
    private double baseRate;
    private int probeSeen;
    private long probeNanos;
    private long probeTokens;
    private long probePrompt;

    private int budgetCeiling;
    private int sequenceCeiling;
    private int budgetCeilingLeft;
    private int sequenceCeilingLeft;

    public AdaptiveBatchController(BatchLimits limits) {
        this.limits = Objects.requireNonNull(limits, "limits");
        this.budget = limits.initialBudget();
        this.sequences = limits.initialSequences();
        this.budgetCeiling = limits.maxBudget();
        this.sequenceCeiling = limits.maxSequences();
    }

    /** The limits this controller works within. */
    public BatchLimits limits() {
        return limits;
    }

    /** The current shape, without a new sample. */
    public Decision current() {
        return new Decision(budget, sequences, Action.HOLD);
    }

    /** The smoothed step time in nanoseconds (0 before the first sample). */
    public double averageStepNanos() {
        return avgStepNanos;
    }

    /** Takes one step's numbers; returns the shape for the next steps. */
    public Decision observe(StepSample s) {
        if (s.tokens() == 0 || s.stepNanos() == 0) {
            return current();
        }
        if (warmupLeft > 0) {
            warmupLeft--;
            return current();
        }
        long step = smooth(s);
        tickCeilings();
        if (cutSeen >= 0 && ++cutSeen > SETTLE) {
            Decision undone = judgeCut();
            if (undone != null) {
                return undone;
            }
        }
        if (avgStepNanos > limits.targetItlNanos()) {
            probe = null;
            return cooldown > 0 ? tick(step, s) : shrink(s);
        }
        if (probe != null) {
            Decision undone = judge(step, s);
            if (undone != null) {
                return undone; // this step ran at the value just undone: not a baseline for the next probe
            }
        }
        remember(step, s);
        Decision d = cooldown > 0 || probe != null ? current() : grow(s);
        if (cooldown > 0) {
            cooldown--;
        }
        return d;
    }

    /** Updates the averages; returns the step time as counted (outliers clamped). */
    private long smooth(StepSample s) {
        // a plain mean until the average has a window's worth of steps, so a heavy first wave is not its whole start;
        // a stall counts as at most SLOW_CLAMP times the average
        double sample = slowCount == 0 ? s.stepNanos() : Math.min(s.stepNanos(), SLOW_CLAMP * slowStepNanos);
        slowCount = Math.min(slowCount + 1, SLOW_STEPS);
        slowStepNanos += Math.max(SLOW_ALPHA, 1.0 / slowCount) * (sample - slowStepNanos);
        if (!started) {
            started = true;
            avgStepNanos = s.stepNanos();
            avgPromptTokens = s.promptTokens();
            smoothLight(s);
            return s.stepNanos();
        }
        long step = (long) Math.min(s.stepNanos(), OUTLIER_CLAMP * avgStepNanos);
        avgStepNanos += ALPHA * (step - avgStepNanos);
        avgPromptTokens += ALPHA * (s.promptTokens() - avgPromptTokens);
        smoothLight(s);
        return step;
    }

    /**
     * A cut of sequences must make steps shorter: when the average fell by less than {@value #MIN_COST} of what it
     * was, the steps are slow for another reason (prompts, the host, another process on the GPU) and fewer
     * sequences only leave requests queued. The cut is undone and not tried again below that level for
     * {@value #CEILING_HOLD} steps.
     */
    private Decision judgeCut() {
        cutSeen = -1;
        if (avgStepNanos < (1 - MIN_COST) * cutFromAvgNanos || sequences >= cutFrom) {
            return null;
        }
        sequences = cutFrom;
        sequenceFloor = cutFrom;
        sequenceFloorLeft = CEILING_HOLD;
        cooldown = SETTLE;
        recentCount = 0;
        return new Decision(budget, sequences, Action.PLATEAU_SEQUENCES);
    }

    private void smoothLight(StepSample s) {
        if (s.promptTokens() > limits.minBudget()) {
            return;
        }
        if (lightCount++ == 0) {
            avgLightNanos = s.stepNanos();
            return;
        }
        avgLightNanos += ALPHA * (Math.min(s.stepNanos(), OUTLIER_CLAMP * avgLightNanos) - avgLightNanos);
    }

    private Decision tick(long step, StepSample s) {
        cooldown--;
        remember(step, s);
        return current();
    }

    private Decision shrink(StepSample s) {
        cooldown = SETTLE;
        recentCount = 0; // the steps before a cut say nothing about the next increase
        boolean sustained = slowCount >= SLOW_STEPS && slowStepNanos > limits.targetItlNanos();
        if (budget > limits.minBudget() && avgPromptTokens > limits.minBudget() && sustained) {
            // in proportion to the overshoot, to land near the headroom line rather than far under it (halving made
            // a 55 ms step of 512 prompt tokens fall to a 32-token budget and prompts crawl in for seconds)
            double scale = Math.min(0.9, HEADROOM * limits.targetItlNanos() / avgStepNanos);
            budget = Math.max(limits.minBudget(), (int) (budget * scale));
            return new Decision(budget, sequences, Action.SHRINK_BUDGET);
        }
        if (lightCount < SETTLE || avgLightNanos <= limits.targetItlNanos()) {
            // generation alone is under the target (or not seen long enough to tell): the average is high from
            // prompt-heavy steps (a wave of new requests), and cutting sequences would only leave requests queued
            // for their first token
            return current();
        }
        int running = Math.max(1, Math.min(sequences, s.activeSequences()));
        int floor = Math.max(limits.minSequences(), sequenceFloor);
        int cut = Math.max(floor, Math.min(sequences - 1, running * 3 / 4));
        if (running > 1 && cut < sequences) {
            cutFrom = sequences;
            cutFromAvgNanos = avgStepNanos;
            cutSeen = 0;
            sequences = cut;
            return new Decision(budget, sequences, Action.SHRINK_SEQUENCES);
        }
        if (budget > limits.minBudget()) {
            // sequences at their floor: the budget is what is left, even if prompts seemed light
            budget = Math.max(limits.minBudget(), budget / 2);
            return new Decision(budget, sequences, Action.SHRINK_BUDGET);
        }
        return current();
    }

    /**
     * Adds a step to the probe's window; once full, keeps the increase (null) or undoes it (the decision).
     * Null while still watching.
     */
    private Decision judge(long step, StepSample s) {
        probeSeen++;
        if (probeSeen == 1) {
            return null; // the first step after a change mixes old and new: skip it
        }
        probeNanos += step;
        probeTokens += s.tokens();
        probePrompt += s.promptTokens();
        if (probeSeen < SETTLE + 1) {
            return null;
        }
        Knob knob = probe;
        probe = null;
        if (knob == Knob.BUDGET && probePrompt <= (long) probeFrom * (probeSeen - 1)) {
            // the steps never used the room added (prompts came slower than the old budget): slower steps then
            // come from something else, and say nothing about the increase; capping the budget here left the next
            // wave of prompts queued behind a small budget for hundreds of steps
            return null;
        }
        double meanStep = (double) probeNanos / (probeSeen - 1);
        double rate = probeTokens / (double) probeNanos;
        double cost = meanStep / baseStepNanos - 1;
        double gain = rate / baseRate - 1;
        if (cost <= MIN_COST || gain >= EFFICIENCY * cost) {
            return null; // paid off, or too small to tell: keep it
        }
        cooldown = SETTLE;
        recentCount = 0;
        if (knob == Knob.BUDGET) {
            budget = probeFrom;
            budgetCeiling = probeFrom;
            budgetCeilingLeft = CEILING_HOLD;
            return new Decision(budget, sequences, Action.PLATEAU_BUDGET);
        }
        sequences = probeFrom;
        sequenceCeiling = probeFrom;
        sequenceCeilingLeft = CEILING_HOLD;
        return new Decision(budget, sequences, Action.PLATEAU_SEQUENCES);
    }

    private Decision grow(StepSample s) {
        if (avgStepNanos >= HEADROOM * limits.targetItlNanos() || recentCount < SETTLE) {
            return current();
        }
        boolean seqBinds = s.waitingSequences() > 0 && s.activeSequences() >= sequences
                && sequences < sequenceCeiling;
        boolean budgetBinds = s.promptTokens() >= budget && budget < budgetCeiling;
        Knob knob = seqBinds && budgetBinds ? (lastGrown == Knob.BUDGET ? Knob.SEQUENCES : Knob.BUDGET)
                : seqBinds ? Knob.SEQUENCES : budgetBinds ? Knob.BUDGET : null;
        if (knob == null) {
            return current();
        }
        startProbe(knob);
        if (knob == Knob.SEQUENCES) {
            sequences = Math.min(sequenceCeiling, sequences + limits.sequenceStep());
            return new Decision(budget, sequences, Action.GROW_SEQUENCES);
        }
        // a quarter more, at least a sixteenth of the range: back to a sound budget in a few probes
        budget = Math.min(budgetCeiling, budget + Math.max(limits.budgetStep(), budget / 4));
        return new Decision(budget, sequences, Action.GROW_BUDGET);
    }

    private void startProbe(Knob knob) {
        long nanos = 0;
        long tokens = 0;
        for (int i = 0; i < SETTLE; i++) {
            nanos += recentNanos[i];
            tokens += recentTokens[i];
        }
        probe = knob;
        lastGrown = knob;
        probeFrom = knob == Knob.BUDGET ? budget : sequences;
        baseStepNanos = nanos / (double) SETTLE;
        baseRate = tokens / (double) nanos;
        probeSeen = 0;
        probeNanos = 0;
        probeTokens = 0;
        probePrompt = 0;
    }

    private void remember(long step, StepSample s) {
        int i = recentCount % SETTLE;
        recentNanos[i] = step;
        recentTokens[i] = s.tokens();
        recentCount++;
    }

    private void tickCeilings() {
        if (sequenceFloorLeft > 0 && --sequenceFloorLeft == 0) {
            sequenceFloor = 0;
        }
        if (budgetCeilingLeft > 0 && --budgetCeilingLeft == 0) {
            budgetCeiling = limits.maxBudget();
        }
        if (sequenceCeilingLeft > 0 && --sequenceCeilingLeft == 0) {
            sequenceCeiling = limits.maxSequences();
        }
    }
}
