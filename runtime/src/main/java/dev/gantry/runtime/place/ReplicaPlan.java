package dev.gantry.runtime.place;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One copy of the model: its GPUs, how it spreads over them, and what it is expected to take.
 *
 * <p>Immutable and thread-safe ({@link #tensorSplit()} returns a copy).
 *
 * @param gpus        GPU indices ({@link Device#id()}); the first is the main GPU; empty for a CPU replica
 * @param mode        the split mode ({@link SplitMode#NONE} for one GPU or the CPU)
 * @param tensorSplit each GPU's share, in the order of {@code gpus}, proportional to its usable memory; sums to 1
 * @param gpuLayers   llama.cpp's {@code n_gpu_layers}: layers offloaded, the model's layer count plus one when
 *                    the output layer is offloaded too (everything); 0 on the CPU
 * @param bytesPerGpu the estimate for each GPU, in the order of {@code gpus}
 * @param sequences   sequences this replica decodes together
 * @param reason      why this replica looks like this, for logs and {@code /api/ps}
 */
public record ReplicaPlan(List<Integer> gpus, SplitMode mode, float[] tensorSplit, int gpuLayers, List<Long> bytesPerGpu,
                      int sequences, String reason) {

    public ReplicaPlan {
        gpus = List.copyOf(gpus);
        bytesPerGpu = List.copyOf(bytesPerGpu);
        tensorSplit = tensorSplit.clone();
        Objects.requireNonNull(mode, "mode");
        Objects.requireNonNull(reason, "reason");
        if (tensorSplit.length != gpus.size() || bytesPerGpu.size() != gpus.size()) {
            throw new IllegalArgumentException("one tensor split and byte estimate per GPU");
        }
        if (sequences < 1 || gpuLayers < 0) {
            throw new IllegalArgumentException("sequences " + sequences + ", gpuLayers " + gpuLayers);
        }
    }

    /** A replica on the CPU alone. */
    static ReplicaPlan cpu(int sequences, String reason) {
        return new ReplicaPlan(List.of(), SplitMode.NONE, new float[0], 0, List.of(), sequences, reason);
    }

    @Override
    public float[] tensorSplit() {
        return tensorSplit.clone();
    }

    /** Whether the replica runs on the CPU alone. */
    public boolean onCpu() {
        return gpus.isEmpty();
    }

    /** The main GPU (llama.cpp's {@code main_gpu}), or -1 on the CPU. */
    public int mainGpu() {
        return gpus.isEmpty() ? -1 : gpus.getFirst();
    }

    /** The estimate over all this replica's GPUs. */
    public long totalBytes() {
        return bytesPerGpu.stream().mapToLong(Long::longValue).sum();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ReplicaPlan r && gpus.equals(r.gpus) && mode == r.mode
                && Arrays.equals(tensorSplit, r.tensorSplit) && gpuLayers == r.gpuLayers
                && bytesPerGpu.equals(r.bytesPerGpu) && sequences == r.sequences && reason.equals(r.reason);
    }

    @Override
    public int hashCode() {
        return Objects.hash(gpus, mode, Arrays.hashCode(tensorSplit), gpuLayers, bytesPerGpu, sequences, reason);
    }

    @Override
    public String toString() {
        return "ReplicaPlan[gpus=" + gpus + ", mode=" + mode.label() + ", tensorSplit=" + Arrays.toString(tensorSplit)
                + ", gpuLayers=" + gpuLayers + ", bytesPerGpu=" + bytesPerGpu + ", sequences=" + sequences
                + ", reason=" + reason + "]";
    }
}
