package dev.gantry.runtime.gpu;

import dev.gantry.llama.gpu.GpuTelemetry;
import dev.gantry.llama.gpu.NvmlDevice;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Keeps every GPU's load fresh for the router and the API: a daemon thread reads each GPU through a
 * {@link GpuTelemetry} every period (one second by default) and publishes an immutable {@link GpuSnapshot}.
 *
 * <p>Threading: {@link #snapshot} is a volatile read, safe and cheap from any thread. Only the sampler thread touches
 * the telemetry after {@link #start} returns. The monitor owns the telemetry and closes it in {@link #close}, after
 * the sampler has stopped.
 *
 * <p>A GPU whose reading fails keeps its last good sample, marked {@linkplain GpuSample#stale stale}; the failure is
 * logged when it starts and when it ends, not every period.
 */
public final class GpuMonitor implements AutoCloseable {
    public static final Duration DEFAULT_PERIOD = Duration.ofSeconds(1);

    private static final System.Logger LOG = System.getLogger("gantry.gpu");
    // the longest close() waits for a sample in progress before leaving the telemetry open
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);

    private final GpuTelemetry telemetry; // null when disabled
    private final Map<Integer, NvmlDevice> targets;
    private final Duration period;
    private final InstantSource clock;
    private final CountDownLatch stop = new CountDownLatch(1);
    private final AtomicBoolean closed = new AtomicBoolean();
    // sampler thread only (and the caller of start() before the thread exists): GPU -> failed samples in a row
    private final Map<Integer, Integer> failing = new HashMap<>();
    private final Thread thread; // null when disabled
    private volatile GpuSnapshot snapshot;

    private GpuMonitor(GpuTelemetry telemetry, Map<Integer, NvmlDevice> targets, Duration period,
                       InstantSource clock, GpuSnapshot initial) {
        this.telemetry = telemetry;
        this.targets = targets;
        this.period = period;
        this.clock = clock;
        this.snapshot = initial;
        this.thread = telemetry == null ? null
                : Thread.ofPlatform().daemon().name("gantry-gpu-monitor").unstarted(this::run);
    }

    /**
     * Reads every GPU once on the caller's thread, so the first snapshot is complete, then samples every
     * {@code period} on a daemon thread.
     *
     * @param telemetry where the figures come from; the monitor owns it from here on, even if this throws
     * @param targets   GPU index to the telemetry's device for it
     */
    public static GpuMonitor start(GpuTelemetry telemetry, Map<Integer, NvmlDevice> targets, Duration period) {
        return start(telemetry, targets, period, InstantSource.system());
    }

    static GpuMonitor start(GpuTelemetry telemetry, Map<Integer, NvmlDevice> targets, Duration period,
                            InstantSource clock) {
        if (period.isNegative() || period.isZero()) {
            telemetry.close(); // it was handed over: nobody else will close it
            throw new IllegalArgumentException("the GPU sampling period must be positive, not " + period);
        }
        GpuMonitor m = new GpuMonitor(telemetry, Map.copyOf(targets), period, clock,
                new GpuSnapshot(Instant.EPOCH, Map.of(), ""));
        m.sampleAll();
        m.thread.start();
        return m;
    }

    /** A monitor with nothing to sample: its snapshot is empty and says why. */
    public static GpuMonitor disabled(String reason) {
        return new GpuMonitor(null, Map.of(), DEFAULT_PERIOD, InstantSource.system(), GpuSnapshot.unavailable(reason));
    }

    /** The latest figures; never null. */
    public GpuSnapshot snapshot() {
        return snapshot;
    }

    public Duration period() {
        return period;
    }

    /** Stops the sampler, waits for a sample in progress, then closes the telemetry. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true) || telemetry == null) {
            return;
        }
        stop.countDown();
        boolean stopped = false;
        try {
            thread.join(CLOSE_WAIT);
            stopped = !thread.isAlive();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (stopped) {
            telemetry.close();
        } else {
            // closing NVML under a call in progress would free the handles it is using; the process is ending anyway
            LOG.log(System.Logger.Level.WARNING, "GPU monitor: the sampler did not stop within {0} s; leaving the "
                    + "telemetry open", CLOSE_WAIT.toSeconds());
        }
    }

    private void run() {
        try {
            while (!stop.await(period.toNanos(), TimeUnit.NANOSECONDS)) {
                try {
                    sampleAll();
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.ERROR, "GPU monitor: sampling failed", e);
                }
            }
        } catch (InterruptedException e) {
            // nobody interrupts this thread but a shutdown: stop quietly
        }
    }

    /** One round: read every GPU, keep the last good figures of those that fail, publish. */
    void sampleAll() {
        Map<Integer, GpuSample> previous = snapshot.samples();
        Map<Integer, GpuSample> next = new HashMap<>();
        for (Map.Entry<Integer, NvmlDevice> target : targets.entrySet()) {
            int gpu = target.getKey();
            try {
                GpuSample s = GpuSample.of(gpu, telemetry.sample(target.getValue()), clock.instant());
                Integer failed = failing.remove(gpu);
                if (failed != null) {
                    LOG.log(System.Logger.Level.INFO, "GPU {0}: telemetry is back after {1} failed sample(s)",
                            gpu, failed);
                }
                next.put(gpu, s);
            } catch (RuntimeException e) {
                if (failing.merge(gpu, 1, Integer::sum) == 1) {
                    LOG.log(System.Logger.Level.WARNING, "GPU {0}: telemetry failed ({1}); keeping its last figures, "
                            + "marked stale, until it answers again", gpu, e.getMessage());
                }
                GpuSample last = previous.get(gpu);
                if (last != null) {
                    next.put(gpu, last.asStale());
                }
            }
        }
        snapshot = new GpuSnapshot(clock.instant(), next, "");
    }
}
