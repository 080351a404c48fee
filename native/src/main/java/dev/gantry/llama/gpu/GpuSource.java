package dev.gantry.llama.gpu;

/**
 * What one source of GPU facts said, for the {@code gpus} report and the log: {@code NVML: 4 GPUs}, or
 * {@code NVML: unavailable (libnvidia-ml.so.1: cannot open shared object file)}.
 *
 * @param name      {@code llama.cpp}, {@code CUDA driver} or {@code NVML}
 * @param available whether it answered
 * @param detail    what it found, or why it is unavailable
 */
public record GpuSource(String name, boolean available, String detail) {
    public static GpuSource of(String name, Probe<?> probe, String foundDetail) {
        return new GpuSource(name, probe.isAvailable(), probe.isAvailable() ? foundDetail : probe.reason());
    }

    @Override
    public String toString() {
        return name + ": " + (available ? detail : "unavailable (" + detail + ")");
    }
}
