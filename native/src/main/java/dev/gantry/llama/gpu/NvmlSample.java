package dev.gantry.llama.gpu;

/**
 * One reading of a GPU's load. A figure the GPU does not report (NVML's {@code NOT_SUPPORTED}, for example power on
 * some boards) is unknown: -1, or NaN for power, never a failure of the whole reading.
 *
 * @param utilizationPercent       share of the last sample period in which a kernel ran, 0..100
 * @param memoryUtilizationPercent share of the period in which device memory was read or written, 0..100
 * @param memoryUsedBytes          device memory in use, by every process (NVML v1 counts driver reservations too)
 * @param memoryTotalBytes         device memory in all
 * @param temperatureCelsius       GPU core temperature
 * @param powerWatts               board power draw
 */
public record NvmlSample(int utilizationPercent, int memoryUtilizationPercent, long memoryUsedBytes,
                         long memoryTotalBytes, int temperatureCelsius, double powerWatts) {
    /** Nothing known. */
    public static final NvmlSample UNKNOWN = new NvmlSample(-1, -1, -1, -1, -1, Double.NaN);

    /** Free device memory, or -1 when used or total is unknown. */
    public long memoryFreeBytes() {
        return memoryUsedBytes < 0 || memoryTotalBytes < 0 ? -1 : Math.max(0, memoryTotalBytes - memoryUsedBytes);
    }
}
