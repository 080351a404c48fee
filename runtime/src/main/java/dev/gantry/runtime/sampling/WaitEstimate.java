package dev.gantry.runtime.sampling;

/**
 * How long a runner's prepared sampling tasks may sleep before they spin ({@link ParallelSampling#prepare(int,
 * java.util.function.IntConsumer, long)}): a part of the shortest of the last {@link #WINDOW} waits from the tasks'
 * hand-out to the rows' arrival, less a margin for waking. Nothing until {@link #MIN_SAMPLES} waits are known, so a
 * runner's first steps spin from the start, as do those of a runner whose waits are short.
 */
public final class WaitEstimate {
    static final int WINDOW = 8;
    static final int MIN_SAMPLES = 4;
    /** The part of the shortest recent wait slept: a step shorter than the shortest lately still finds them awake. */
    static final double FRACTION = 0.75;
    /** Waking a sleeping thread takes 50 to 100 µs on Linux; it should spin a little before the rows arrive. */
    static final long MARGIN_NANOS = 300_000;

    private final long[] recent = new long[WINDOW];
    private int count;
    private final boolean enabled;

    public WaitEstimate() {
        this(!"false".equals(System.getProperty("gantry.lateSpin")));
    }

    WaitEstimate(boolean enabled) {
        this.enabled = enabled;
    }

    /** A prepared step's wait, from the hand-out of its tasks to the rows' arrival. */
    public void record(long nanos) {
        recent[count++ % WINDOW] = Math.max(0, nanos);
    }

    /** How long the next step's tasks sleep before they spin; 0: they spin from the start. */
    public long sleepNanos() {
        if (!enabled || count < MIN_SAMPLES) {
            return 0;
        }
        long shortest = Long.MAX_VALUE;
        for (int i = 0; i < Math.min(count, WINDOW); i++) {
            shortest = Math.min(shortest, recent[i]);
        }
        return Math.max(0, (long) (shortest * FRACTION) - MARGIN_NANOS);
    }
}
