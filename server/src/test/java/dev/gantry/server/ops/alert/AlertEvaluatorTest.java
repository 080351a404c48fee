package dev.gantry.server.ops.alert;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.gpu.GpuSample;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The evaluator over recorded readings: each episode fires once, after its rule's time, and resolves once. */
class AlertEvaluatorTest {
    private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
    private static final long GIB = 1L << 30;

    /** A reading of GPU {@code gpu}: utilisation, temperature, memory used of 80 GiB. */
    private static GpuSample sample(int gpu, int util, int temp, long usedGiB, int second) {
        return new GpuSample(gpu, util, 10, usedGiB * GIB, 80 * GIB, temp, 300.0, T0.plusSeconds(second), false);
    }

    /** Plays one reading per second for GPU 0; returns every event, in order. */
    private static List<AlertEvent> play(AlertEvaluator e, int[] utilization, int waiting) {
        List<AlertEvent> out = new ArrayList<>();
        for (int i = 0; i < utilization.length; i++) {
            out.addAll(e.evaluate(T0.plusSeconds(i), Map.of(0, sample(0, utilization[i], 50, 10, i)), waiting));
        }
        return out;
    }

    private static int[] repeat(int value, int times) {
        int[] out = new int[times];
        java.util.Arrays.fill(out, value);
        return out;
    }

    private static int[] concat(int[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToInt(java.util.Arrays::stream).toArray();
    }

    @Test
    void saturationFiresAfterAMinuteOnceAndResolvesOnce() {
        AlertEvaluator e = new AlertEvaluator(AlertRules.defaults());
        // 95% for 90 s, then 50%: fires at second 60 (a minute after the first high reading), resolves at 90
        List<AlertEvent> events = play(e, concat(repeat(95, 90), repeat(50, 10)), 0);
        assertEquals(2, events.size(), events.toString());
        AlertEvent fired = events.get(0);
        assertEquals(AlertKind.GPU_UTILIZATION_HIGH, fired.kind());
        assertEquals(AlertEvent.State.FIRING, fired.state());
        assertEquals(T0.plusSeconds(60), fired.at());
        assertEquals(95.0, fired.value());
        assertEquals(90.0, fired.threshold());
        assertEquals(AlertEvent.State.RESOLVED, events.get(1).state());
        assertEquals(T0.plusSeconds(90), events.get(1).at());
    }

    @Test
    void aDipRestartsTheMinute() {
        AlertEvaluator e = new AlertEvaluator(AlertRules.defaults());
        // 59 s high, one low reading, 59 s high: never a full minute
        assertEquals(List.of(), play(e, concat(repeat(95, 59), repeat(40, 1), repeat(95, 59)), 0));
        assertTrue(!e.isFiring(0, AlertKind.GPU_UTILIZATION_HIGH));
    }

    @Test
    void anIdleGpuIsAnAlertOnlyWhileRequestsWait() {
        AlertEvaluator idle = new AlertEvaluator(AlertRules.defaults());
        assertEquals(List.of(), play(idle, repeat(2, 120), 0), "idle with nothing to do is fine");

        AlertEvaluator waiting = new AlertEvaluator(AlertRules.defaults());
        List<AlertEvent> events = play(waiting, repeat(2, 120), 7);
        assertEquals(1, events.size(), events.toString());
        assertEquals(AlertKind.GPU_IDLE_WHILE_WAITING, events.getFirst().kind());
        assertEquals(T0.plusSeconds(30), events.getFirst().at());
        assertTrue(events.getFirst().message().contains("7 request(s) wait"), events.getFirst().message());
    }

    @Test
    void temperatureAndMemoryFireOnTheFirstReadingAndNameTheGpu() {
        AlertEvaluator e = new AlertEvaluator(AlertRules.defaults());
        List<AlertEvent> events = new ArrayList<>();
        events.addAll(e.evaluate(T0, Map.of(0, sample(0, 50, 70, 10, 0), 1, sample(1, 50, 70, 10, 0)), 0));
        events.addAll(e.evaluate(T0.plusSeconds(1),
                Map.of(0, sample(0, 50, 70, 10, 1), 1, sample(1, 50, 85, 78, 1)), 0)); // 78/80 GiB > 0.95
        events.addAll(e.evaluate(T0.plusSeconds(2),
                Map.of(0, sample(0, 50, 70, 10, 2), 1, sample(1, 50, 86, 79, 2)), 0)); // still: nothing new
        events.addAll(e.evaluate(T0.plusSeconds(3),
                Map.of(0, sample(0, 50, 70, 10, 3), 1, sample(1, 50, 75, 40, 3)), 0));
        assertEquals(List.of("1 gpu_temperature_high firing", "1 gpu_memory_high firing",
                "1 gpu_temperature_high resolved", "1 gpu_memory_high resolved"),
                events.stream().map(x -> x.gpu() + " " + x.kind().wire() + " " + x.state().wire()).toList());
        assertEquals(85.0, events.get(0).value());
        assertEquals(78 / 80.0, events.get(1).value(), 1e-9);
        assertTrue(events.get(2).message().contains("recovered"), events.get(2).message());
    }

    @Test
    void staleAndUnknownReadingsChangeNothing() {
        AlertEvaluator e = new AlertEvaluator(AlertRules.defaults());
        assertEquals(1, e.evaluate(T0, Map.of(0, sample(0, 50, 90, 10, 0)), 0).size());
        GpuSample stale = new GpuSample(0, 50, 10, 10 * GIB, 80 * GIB, 40, 300.0, T0, true);
        assertEquals(List.of(), e.evaluate(T0.plusSeconds(1), Map.of(0, stale), 0), "a stale reading resolves nothing");
        GpuSample unknown = new GpuSample(0, -1, -1, -1, -1, -1, Double.NaN, T0.plusSeconds(2), false);
        assertEquals(List.of(), e.evaluate(T0.plusSeconds(2), Map.of(0, unknown), 0));
        assertTrue(e.isFiring(0, AlertKind.GPU_TEMPERATURE_HIGH));
    }

    @Test
    void rulesAreValidatedAndReadFromTheEnvironment() {
        AlertRules r = AlertRules.fromEnv(Map.of("GANTRY_ALERT_GPU_TEMP_C", "75", "GANTRY_ALERT_GPU_MEMORY", "0.9"));
        assertEquals(75, r.temperatureHighCelsius());
        assertEquals(0.9, r.memoryCeiling());
        assertEquals(Duration.ofMinutes(1), r.utilizationHighFor());
        assertThrows(IllegalArgumentException.class, () -> AlertRules.fromEnv(Map.of("GANTRY_ALERT_GPU_MEMORY", "2")));
        assertThrows(IllegalArgumentException.class, () -> AlertRules.fromEnv(Map.of("GANTRY_ALERT_GPU_UTIL_LOW", "x")));
    }
}
