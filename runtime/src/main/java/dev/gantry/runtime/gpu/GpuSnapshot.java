package dev.gantry.runtime.gpu;

import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * Every GPU's latest {@link GpuSample} at one moment. Immutable: {@link GpuMonitor} publishes a new one each round,
 * so any thread reads a consistent set without locking.
 *
 * @param takenAt     when the round that made it ended; {@link Instant#EPOCH} for a monitor that never sampled
 * @param samples     by GPU index; a GPU that was never read successfully is absent
 * @param unavailable why there are no samples at all (e.g. {@code NVML: unavailable (...)}); empty when sampling
 */
public record GpuSnapshot(Instant takenAt, Map<Integer, GpuSample> samples, String unavailable) {
    public GpuSnapshot {
        samples = Map.copyOf(samples);
    }

    static GpuSnapshot unavailable(String reason) {
        return new GpuSnapshot(Instant.EPOCH, Map.of(), reason);
    }

    public Optional<GpuSample> sample(int gpu) {
        return Optional.ofNullable(samples.get(gpu));
    }

    /** Whether telemetry is being sampled at all. */
    public boolean isAvailable() {
        return unavailable.isEmpty();
    }
}
