package dev.gantry.server.ops.alert;

import dev.gantry.runtime.gpu.GpuSnapshot;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * Checks the GPU monitor's latest snapshot against the {@link AlertRules} every period, on one daemon thread, and
 * hands the episodes that start or end to its sinks (the log, the webhook). A snapshot already seen (the GPU monitor
 * samples about once a second) is not evaluated again. Serving never waits for it.
 */
public final class AlertMonitor implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("gantry.alerts");

    private final AlertEvaluator evaluator;
    private final Supplier<GpuSnapshot> gpus;
    private final IntSupplier waiting;
    private final List<AlertSink> sinks;
    private final Duration period;
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Thread thread;
    private Instant lastEvaluated = Instant.MIN;

    private AlertMonitor(AlertRules rules, Supplier<GpuSnapshot> gpus, IntSupplier waiting, List<AlertSink> sinks,
                         Duration period) {
        this.evaluator = new AlertEvaluator(rules);
        this.gpus = gpus;
        this.waiting = waiting;
        this.sinks = List.copyOf(sinks);
        this.period = period;
        this.thread = Thread.ofPlatform().daemon().name("gantry-alerts").unstarted(this::run);
    }

    /**
     * @param gpus    the GPU monitor's snapshots
     * @param waiting requests waiting for a slot, over every loaded model
     * @param period  how often to look (the GPU monitor's period is a good choice)
     */
    public static AlertMonitor start(AlertRules rules, Supplier<GpuSnapshot> gpus, IntSupplier waiting,
                                     List<AlertSink> sinks, Duration period) {
        if (period.isNegative() || period.isZero()) {
            throw new IllegalArgumentException("the alert period must be positive, not " + period);
        }
        AlertMonitor m = new AlertMonitor(rules, gpus, waiting, sinks, period);
        m.thread.start();
        return m;
    }

    private void run() {
        try {
            do {
                try {
                    evaluateOnce();
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.ERROR, "alert evaluation failed", e);
                }
            } while (!stop.await(period.toNanos(), TimeUnit.NANOSECONDS));
        } catch (InterruptedException e) {
            // stopping
        }
    }

    private void evaluateOnce() {
        GpuSnapshot s = gpus.get();
        if (!s.isAvailable() || s.samples().isEmpty() || !s.takenAt().isAfter(lastEvaluated)) {
            return;
        }
        lastEvaluated = s.takenAt();
        for (AlertEvent e : evaluator.evaluate(s.takenAt(), s.samples(), waiting.getAsInt())) {
            for (AlertSink sink : sinks) {
                try {
                    sink.accept(e);
                } catch (RuntimeException ex) {
                    LOG.log(System.Logger.Level.WARNING, "alert sink failed", ex);
                }
            }
        }
    }

    @Override
    public void close() {
        stop.countDown();
        try {
            thread.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
