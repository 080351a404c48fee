package dev.gantry.server.ops;

import dev.gantry.runtime.Submission;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationMetrics;
import dev.gantry.runtime.runner.TokenRelay;

/**
 * Records one generation's metrics when it ends, on the thread that writes its answer (the connection's event loop),
 * never on the runner's. It learns where the request went ({@link #submitted}) on the request's thread and how it
 * ended through the sink it wraps ({@link #wrap}); the two may come in either order (a short generation can end
 * before {@code submit} returns), so whichever comes second records. Each gap between two pieces of the answer is
 * a sample of the replica's inter-token histogram as it is written (the few before the replica is known are held
 * until it is).
 */
public final class GenerationRecorder {
    private final GantryMetrics metrics;
    private final String model;
    private final long startNanos;

    // guarded by this
    private Submission submission;
    private long submittedNanos;
    private boolean ended;
    private FinishReason reason;
    private GenerationMetrics result;
    private long endNanos;
    private boolean failed;
    private boolean recorded;
    // the thread that writes the answer's
    private boolean texted;
    private long lastText;
    /** The replica's inter-token histogram, once {@link #submitted} names the replica. */
    private volatile io.micrometer.core.instrument.Timer gaps;
    // guarded by this: the gaps before that
    private long[] early = new long[0];
    private int earlyCount;

    GenerationRecorder(GantryMetrics metrics, String model, long startNanos) {
        this.metrics = metrics;
        this.model = model;
        this.startNanos = startNanos;
    }

    /**
     * The sink to hand the relay: {@code sink}, plus this recorder's bookkeeping when the generation ends.
     *
     * @param submittedNanos when the request was handed to the model ({@link System#nanoTime})
     */
    public TokenRelay.Sink wrap(TokenRelay.Sink sink, long submittedNanos) {
        synchronized (this) {
            this.submittedNanos = submittedNanos;
        }
        return new TokenRelay.Sink() {
            @Override
            public void onText(String text) {
                sink.onText(text);
                gap(metrics.clock.getAsLong());
            }

            @Override
            public void onDone(FinishReason r, GenerationMetrics m) {
                ended(r, m, false);
                sink.onDone(r, m);
            }

            @Override
            public void onError(Throwable error) {
                ended(null, null, true);
                sink.onError(error);
            }

            @Override
            public void onLogprobs(dev.gantry.runtime.sampling.TokenLogprobs logprobs,
                                   java.util.function.IntFunction<byte[]> pieces) {
                sink.onLogprobs(logprobs, pieces);
            }

            @Override
            public void onPromptLogprobs(int position, dev.gantry.runtime.sampling.TokenLogprobs logprobs,
                                         java.util.function.IntFunction<byte[]> pieces) {
                sink.onPromptLogprobs(position, logprobs, pieces);
            }

            @Override
            public void flush() {
                sink.flush();
            }

            @Override
            public boolean isWritable() {
                return sink.isWritable();
            }
        };
    }

    private void gap(long now) {
        long gap = now - lastText;
        boolean first = !texted;
        lastText = now;
        texted = true;
        if (first) {
            return;
        }
        io.micrometer.core.instrument.Timer t = gaps;
        if (t == null) {
            synchronized (this) {
                if (gaps == null) {
                    if (earlyCount == early.length) {
                        early = java.util.Arrays.copyOf(early, Math.max(16, 2 * earlyCount));
                    }
                    early[earlyCount++] = gap;
                    return;
                }
                t = gaps;
            }
        }
        t.record(gap, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /** The model took the request: which replica, and whether prefix affinity chose it. */
    public void submitted(Submission s) {
        io.micrometer.core.instrument.Timer t = metrics.interTokenLatency(model, s.replica());
        synchronized (this) {
            submission = s;
            for (int i = 0; i < earlyCount; i++) {
                t.record(early[i], java.util.concurrent.TimeUnit.NANOSECONDS);
            }
            earlyCount = 0;
            early = new long[0];
            gaps = t;
        }
        recordWhenComplete();
    }

    /** The model refused the request: every replica's queue was full. */
    public void refused() {
        metrics.queueFull(model);
    }

    private void ended(FinishReason r, GenerationMetrics m, boolean error) {
        synchronized (this) {
            ended = true;
            reason = r;
            result = m;
            failed = error;
            endNanos = System.nanoTime();
        }
        recordWhenComplete();
    }

    private void recordWhenComplete() {
        Submission s;
        synchronized (this) {
            if (recorded || !ended || submission == null) {
                return;
            }
            recorded = true;
            s = submission;
        }
        metrics.record(model, s.replica(), s.prefixHit(), reason, result, submittedNanos, startNanos, endNanos, failed);
    }
}
