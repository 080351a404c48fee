package dev.gantry.llama.gpu;

import java.util.List;

/**
 * Live per-GPU figures: {@link Nvml} on a GPU host, a fake in tests. The seam the monitor and the router read through.
 *
 * <p>Implementations must allow {@link #sample} from any one thread at a time (the monitor's sampler) while other
 * threads call {@link #devices}; {@link #close} is called once, after the last sample.
 */
public interface GpuTelemetry extends AutoCloseable {
    /** The GPUs this source sees, fixed for its lifetime. */
    List<NvmlDevice> devices();

    /**
     * Reads one device now. Figures the device does not report are unknown in the result; a failure of the device or
     * of the source (a lost GPU, a driver error) throws.
     *
     * @throws RuntimeException when the reading failed as a whole ({@link NvmlException} for NVML)
     */
    NvmlSample sample(NvmlDevice device);

    /** Releases the source; no call may follow. */
    @Override
    void close();
}
