package dev.gantry.runtime.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.gantry.llama.gpu.GpuTelemetry;
import dev.gantry.llama.gpu.Probe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

class GpuReportTest {
    private static final InstantSource CLOCK = InstantSource.fixed(Instant.parse("2026-11-27T12:00:00Z"));

    private static GpuReport twoGpus(FakeTelemetry telemetry) {
        return GpuReport.collect(GpuHosts.llama(2), GpuHosts.twoH100s(), Probe.found(telemetry), Optional.empty(),
                CLOCK);
    }

    @Test
    void collectReadsEachGpuOnceThroughItsBusIdThenClosesTheTelemetry() {
        FakeTelemetry telemetry = new FakeTelemetry(GpuHosts.nvml());
        GpuReport report = twoGpus(telemetry);
        assertEquals(List.of(0, 1), report.gpuIndexes());
        // GPU 0 is on bus 18, which NVML lists second (index 1, reading 10%)
        assertEquals(10, report.samples().get(0).utilizationPercent());
        assertEquals(0, report.samples().get(1).utilizationPercent());
        assertEquals(1, telemetry.closes.get());
        assertTrue(report.render().contains("10%"), report.render());
    }

    @Test
    void aGpuThatFailsToReadIsLeftWithoutFigures() {
        FakeTelemetry telemetry = new FakeTelemetry(GpuHosts.nvml());
        telemetry.failing.add(1);
        GpuReport report = twoGpus(telemetry);
        assertFalse(report.samples().containsKey(0));
        assertTrue(report.samples().containsKey(1));
    }

    @Test
    void selectNarrowsTheReport() {
        GpuReport one = twoGpus(new FakeTelemetry(GpuHosts.nvml())).select(List.of("1"));
        assertEquals(List.of(1), one.gpuIndexes());
        assertEquals(List.of(1), List.copyOf(one.samples().keySet()));
        assertEquals(List.of(1, 0), twoGpus(new FakeTelemetry(GpuHosts.nvml())).selectIndexes(List.of(1, 0))
                .gpuIndexes());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> twoGpus(new FakeTelemetry(GpuHosts.nvml())).select(List.of("2")));
        assertTrue(e.getMessage().startsWith("--gpus: there is no GPU 2; visible GPUs: 0 (NVIDIA H100 80GB HBM3"),
                e.getMessage());
    }

    @Test
    void theMonitorSamplesTheReportsGpusThroughAFreshSession() {
        GpuReport report = twoGpus(new FakeTelemetry(GpuHosts.nvml()));
        FakeTelemetry live = new FakeTelemetry(GpuHosts.nvml());
        try (GpuMonitor m = report.startMonitor(() -> Probe.<GpuTelemetry>found(live), Duration.ofHours(1))) {
            assertEquals(10, m.snapshot().sample(0).orElseThrow().utilizationPercent());
            assertEquals(0, m.snapshot().sample(1).orElseThrow().utilizationPercent());
        }
        assertEquals(1, live.closes.get());
    }

    @Test
    void withoutNvmlTheMonitorIsDisabledWithTheReason() {
        GpuReport report = GpuReport.collect(GpuHosts.llama(2), GpuHosts.twoH100s(),
                Probe.unavailable("libnvidia-ml.so.1: cannot open shared object file"), Optional.empty(), CLOCK);
        assertTrue(report.samples().isEmpty());
        try (GpuMonitor m = report.startMonitor(Duration.ofSeconds(1))) {
            assertEquals("NVML: unavailable (libnvidia-ml.so.1: cannot open shared object file)",
                    m.snapshot().unavailable());
        }
    }

    @Test
    void withoutGpusTheMonitorIsDisabled() {
        GpuReport report = GpuReport.collect(Probe.found(List.of(GpuHosts.CPU)), Probe.unavailable("no driver"),
                Probe.unavailable("no NVML"), Optional.empty(), CLOCK);
        assertFalse(report.hasGpu());
        try (GpuMonitor m = report.startMonitor(Duration.ofSeconds(1))) {
            assertEquals("no GPU", m.snapshot().unavailable());
        }
    }

    /** End to end on this machine: the bundled CPU llama.cpp, and no libcuda or NVML. */
    @Test
    void onAHostWithoutGpusCollectSaysSoForEverySource() {
        assumeTrue(absent("libcuda.so.1") && absent("libnvidia-ml.so.1"), "this host has an NVIDIA driver");
        GpuReport report = GpuReport.collect(Optional.empty(), Path.of("target", "gantry-cache").toAbsolutePath());
        String text = report.render();
        assertFalse(report.hasGpu());
        assertTrue(text.startsWith("No GPU found: models run on the CPU.\n"), text);
        assertTrue(text.contains("\nllama.cpp: no GPU backend (CPU only)\n"), text);
        assertTrue(text.contains("\nCUDA driver: unavailable (libcuda.so.1: cannot open shared object file"), text);
        assertTrue(text.contains("\nNVML: unavailable (libnvidia-ml.so.1: cannot open shared object file)\n"), text);
        try (GpuMonitor m = report.startMonitor(GpuMonitor.DEFAULT_PERIOD)) {
            assertFalse(m.snapshot().isAvailable());
        }
    }

    private static boolean absent(String library) {
        return Stream.of("/usr/lib", "/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu")
                .map(dir -> Path.of(dir, library)).noneMatch(Files::exists);
    }
}
