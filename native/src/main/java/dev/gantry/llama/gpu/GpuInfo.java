package dev.gantry.llama.gpu;

import java.util.Locale;

/**
 * One GPU this process can see, merged from llama.cpp's backend registry, the CUDA driver and NVML by
 * {@link GpuDiscovery}. Immutable. A figure no source gave is -1; a text no source gave is empty.
 *
 * @param index              the GPU's id for {@code --gpus}: the CUDA ordinal (llama.cpp's {@code CUDA<index>}), or,
 *                           for a llama.cpp GPU that is not a CUDA device, a number after the CUDA ones
 * @param backendName        llama.cpp's device name ({@code CUDA0}); empty when llama.cpp has no backend for it
 * @param backendIndex       its index in llama.cpp's backend registry, -1 when absent
 * @param name               the product name
 * @param pciBusId           lower-case {@code dddd:bb:dd.f}
 * @param uuid               NVML's {@code GPU-...} id
 * @param totalBytes         device memory
 * @param freeBytes          free device memory when llama.cpp listed the devices
 * @param computeMajor       compute capability major
 * @param computeMinor       compute capability minor
 * @param smCount            streaming multiprocessors
 * @param memoryBusWidthBits memory bus width
 * @param memoryClockKHz     peak memory clock
 * @param cudaOrdinal        the CUDA driver's ordinal, -1 when the driver API is unavailable
 * @param nvmlIndex          NVML's index (what {@code nvidia-smi} shows), -1 when NVML does not know this GPU
 */
public record GpuInfo(int index, String backendName, int backendIndex, String name, String pciBusId, String uuid,
                      long totalBytes, long freeBytes, int computeMajor, int computeMinor, int smCount,
                      int memoryBusWidthBits, int memoryClockKHz, int cudaOrdinal, int nvmlIndex) {

    /** Peak memory bandwidth estimated as 2 × clock × bus width / 8; -1 when unknown. */
    public long bandwidthBytesPerSecond() {
        return CudaDevice.bandwidthBytesPerSecond(memoryClockKHz, memoryBusWidthBits);
    }

    /** {@code 9.0}, or {@code ?} when unknown. */
    public String computeCapability() {
        return computeMajor < 0 ? "?" : computeMajor + "." + Math.max(0, computeMinor);
    }

    /** Whether llama.cpp can put model weights on it. */
    public boolean usableByLlama() {
        return backendIndex >= 0;
    }

    /** One line for messages: {@code 0 (NVIDIA H100 80GB HBM3, 0000:18:00.0)}. */
    public String describe() {
        return String.format(Locale.ROOT, "%d (%s%s)", index, name, pciBusId.isEmpty() ? "" : ", " + pciBusId);
    }
}
