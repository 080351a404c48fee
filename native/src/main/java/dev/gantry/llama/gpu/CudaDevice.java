package dev.gantry.llama.gpu;

/**
 * One device as the CUDA driver sees it. A figure the driver would not give is -1.
 *
 * @param ordinal            CUDA's ordinal after {@code CUDA_VISIBLE_DEVICES}: llama.cpp's {@code CUDA<ordinal>}
 * @param name               e.g. {@code NVIDIA H100 80GB HBM3}
 * @param totalBytes         {@code cuDeviceTotalMem}
 * @param computeMajor       compute capability, e.g. 9 for Hopper
 * @param computeMinor       e.g. 0
 * @param smCount            streaming multiprocessors
 * @param memoryBusWidthBits global memory bus width, e.g. 5120 for HBM3
 * @param memoryClockKHz     peak memory clock
 * @param pciBusId           lower-case {@code dddd:bb:dd.f} ({@link PciBusId}); empty when unknown
 */
public record CudaDevice(int ordinal, String name, long totalBytes, int computeMajor, int computeMinor, int smCount,
                         int memoryBusWidthBits, int memoryClockKHz, String pciBusId) {
    /**
     * Peak memory bandwidth from the clock and the bus: two transfers a clock (DDR) of {@code busWidth / 8} bytes.
     * An H100 SXM (2619 MHz, 5120 bits) gives 3.35 TB/s, its data-sheet figure. -1 when either is unknown.
     */
    public long bandwidthBytesPerSecond() {
        return bandwidthBytesPerSecond(memoryClockKHz, memoryBusWidthBits);
    }

    static long bandwidthBytesPerSecond(int memoryClockKHz, int memoryBusWidthBits) {
        if (memoryClockKHz <= 0 || memoryBusWidthBits <= 0) {
            return -1;
        }
        return 2L * memoryClockKHz * 1000L * (memoryBusWidthBits / 8);
    }
}
