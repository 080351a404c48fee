package dev.gantry.runtime.gpu;

import dev.gantry.llama.gpu.NvmlSample;
import java.time.Instant;

/**
 * The latest reading of one GPU's load, as the router and the API see it. Immutable. Unknown figures are -1 (NaN for
 * power), as in the reading they came from.
 *
 * @param gpu                      the GPU's index ({@code --gpus} id, CUDA ordinal)
 * @param utilizationPercent       share of time a kernel ran, 0..100
 * @param memoryUtilizationPercent share of time device memory was busy, 0..100
 * @param memoryUsedBytes          device memory in use, by every process
 * @param memoryTotalBytes         device memory in all
 * @param temperatureCelsius       GPU core temperature
 * @param powerWatts               board power draw
 * @param sampledAt                when these figures were read
 * @param stale                    the last reading failed: these are the figures of the last one that worked
 */
public record GpuSample(int gpu, int utilizationPercent, int memoryUtilizationPercent, long memoryUsedBytes,
                        long memoryTotalBytes, int temperatureCelsius, double powerWatts, Instant sampledAt,
                        boolean stale) {

    static GpuSample of(int gpu, NvmlSample s, Instant at) {
        return new GpuSample(gpu, s.utilizationPercent(), s.memoryUtilizationPercent(), s.memoryUsedBytes(),
                s.memoryTotalBytes(), s.temperatureCelsius(), s.powerWatts(), at, false);
    }

    /** Free device memory, or -1 when unknown. */
    public long memoryFreeBytes() {
        return memoryUsedBytes < 0 || memoryTotalBytes < 0 ? -1 : Math.max(0, memoryTotalBytes - memoryUsedBytes);
    }

    GpuSample asStale() {
        return stale ? this : new GpuSample(gpu, utilizationPercent, memoryUtilizationPercent, memoryUsedBytes,
                memoryTotalBytes, temperatureCelsius, powerWatts, sampledAt, true);
    }
}
