package dev.gantry.runtime.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.llama.gpu.NvmlDevice;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class GpuMonitorTest {
    private static final Duration FAST = Duration.ofMillis(5);
    // NVML's indexes differ from the GPU indexes on purpose: GPU 0 is NVML 3, GPU 1 is NVML 1
    private static final NvmlDevice NVML3 = new NvmlDevice(3, "H100", "GPU-d", "0000:5d:00.0");
    private static final NvmlDevice NVML1 = new NvmlDevice(1, "H100", "GPU-b", "0000:2a:00.0");

    private final List<LogRecord> logged = new ArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            synchronized (logged) {
                logged.add(r);
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };
    private FakeTelemetry telemetry;

    @BeforeEach
    void setUp() {
        Logger.getLogger("gantry.gpu").addHandler(capture);
        telemetry = new FakeTelemetry(List.of(NVML1, NVML3));
    }

    @AfterEach
    void tearDown() {
        Logger.getLogger("gantry.gpu").removeHandler(capture);
    }

    @Test
    void theFirstSnapshotIsCompleteWhenStartReturns() {
        try (GpuMonitor m = GpuMonitor.start(telemetry, Map.of(0, NVML3, 1, NVML1), Duration.ofHours(1))) {
            GpuSnapshot s = m.snapshot();
            assertTrue(s.isAvailable());
            assertEquals(30, s.sample(0).orElseThrow().utilizationPercent(), "GPU 0 reads NVML device 3");
            assertEquals(10, s.sample(1).orElseThrow().utilizationPercent());
            assertEquals(150.5, s.sample(0).orElseThrow().powerWatts());
            assertEquals(78L << 30, s.sample(0).orElseThrow().memoryFreeBytes());
            assertFalse(s.sample(0).orElseThrow().stale());
        }
    }

    @Test
    void keepsFiguresFreshEveryPeriod() {
        try (GpuMonitor m = GpuMonitor.start(telemetry, Map.of(0, NVML3), FAST)) {
            telemetry.readings.put(3, FakeTelemetry.reading(99));
            await(() -> m.snapshot().sample(0).orElseThrow().utilizationPercent() == 99);
            Instant first = m.snapshot().takenAt();
            await(() -> m.snapshot().takenAt().isAfter(first));
        }
    }

    @Test
    void aFailingGpuKeepsItsLastFiguresMarkedStaleAndIsLoggedOncePerEpisode() {
        try (GpuMonitor m = GpuMonitor.start(telemetry, Map.of(0, NVML3, 1, NVML1), FAST)) {
            telemetry.failing.add(3);
            int before = telemetry.samples.get();
            await(() -> telemetry.samples.get() > before + 10); // several failed rounds
            GpuSample stale = m.snapshot().sample(0).orElseThrow();
            assertTrue(stale.stale());
            assertEquals(30, stale.utilizationPercent(), "the last good figures");
            assertFalse(m.snapshot().sample(1).orElseThrow().stale(), "the other GPU is unaffected");
            assertEquals(1, count(Level.WARNING, "GPU 0: telemetry failed"));

            telemetry.failing.remove(3);
            await(() -> !m.snapshot().sample(0).orElseThrow().stale());
            await(() -> count(Level.INFO, "GPU 0: telemetry is back") == 1);

            telemetry.failing.add(3); // a second episode is logged again
            await(() -> count(Level.WARNING, "GPU 0: telemetry failed") == 2);
        }
    }

    @Test
    void aGpuNeverReadIsAbsentNotInvented() {
        telemetry.failing.add(3);
        try (GpuMonitor m = GpuMonitor.start(telemetry, Map.of(0, NVML3, 1, NVML1), Duration.ofHours(1))) {
            assertTrue(m.snapshot().sample(0).isEmpty());
            assertTrue(m.snapshot().sample(1).isPresent());
        }
    }

    @Test
    void closeStopsTheSamplerThenClosesTheTelemetryOnce() {
        GpuMonitor m = GpuMonitor.start(telemetry, Map.of(0, NVML3), FAST);
        await(() -> telemetry.samples.get() > 3);
        m.close();
        m.close();
        assertEquals(1, telemetry.closes.get());
        int after = telemetry.samples.get();
        sleep(FAST.multipliedBy(5));
        assertEquals(after, telemetry.samples.get(), "no sample after close");
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().equals(
                "gantry-gpu-monitor") && t.isAlive()), "the sampler thread has ended");
    }

    @Test
    void aDisabledMonitorSaysWhy() {
        try (GpuMonitor m = GpuMonitor.disabled("NVML: unavailable (libnvidia-ml.so.1: cannot open shared object "
                + "file)")) {
            assertFalse(m.snapshot().isAvailable());
            assertTrue(m.snapshot().samples().isEmpty());
            assertTrue(m.snapshot().unavailable().contains("libnvidia-ml.so.1"));
        }
    }

    @Test
    void rejectsANonPositivePeriod() {
        assertThrows(IllegalArgumentException.class, () -> GpuMonitor.start(telemetry, Map.of(), Duration.ZERO));
        assertEquals(1, telemetry.closes.get(), "handed over, so closed");
    }

    private long count(Level level, String prefix) {
        synchronized (logged) {
            return logged.stream().filter(r -> r.getLevel().equals(level))
                    .filter(r -> java.text.MessageFormat.format(r.getMessage(), r.getParameters()).startsWith(prefix))
                    .count();
        }
    }

    private static void await(BooleanSupplier condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within 5 s");
            }
            sleep(Duration.ofMillis(2));
        }
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
