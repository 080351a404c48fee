package dev.gantry.llama.gpu;

/** A GPU source (the CUDA driver, NVML) cannot be used; the message says why in one line. */
public final class GpuUnavailableException extends RuntimeException {
    public GpuUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }

    public GpuUnavailableException(String message) {
        super(message);
    }
}
