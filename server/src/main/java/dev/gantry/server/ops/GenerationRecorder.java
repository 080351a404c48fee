package dev.gantry.server.ops;

import dev.gantry.runtime.Submission;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationMetrics;
import dev.gantry.runtime.runner.TokenRelay;

/**
 * Records one generation's metrics when it ends, on the thread that writes its answer (the connection's event loop),
 * never on the runner's. It learns where the request went ({@link #submitted}) on the request's thread and how it
 * ended through the sink it wraps ({@link #wrap}); the two may come in either order (a short generation can end
 * before {@code submit} returns), so whichever comes second records. The gaps between the pieces of the answer are
 * kept as they are written (on that thread) and recorded with the rest, one histogram sample each.
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
    // written on the thread that writes the answer, before ended() (which publishes them under the lock)
    private boolean texted;
    private long lastText;
    private long[] gaps = new long[0];
    private int gapCount;

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
        if (texted) {
            if (gapCount == gaps.length) {
                gaps = java.util.Arrays.copyOf(gaps, Math.max(64, 2 * gapCount));
            }
            gaps[gapCount++] = now - lastText;
        }
        lastText = now;
        texted = true;
    }

    /** The model took the request: which replica, and whether prefix affinity chose it. */
    public void submitted(Submission s) {
        synchronized (this) {
            submission = s;
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
        long[] g;
        int n;
        synchronized (this) {
            g = gaps;
            n = gapCount;
        }
        metrics.record(model, s.replica(), s.prefixHit(), reason, result, submittedNanos, startNanos, endNanos, failed,
                g, n);
    }
}
