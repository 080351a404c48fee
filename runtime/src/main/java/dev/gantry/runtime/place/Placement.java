package dev.gantry.runtime.place;

import java.util.List;
import java.util.Objects;

/**
 * The planner's answer: the replicas to load and why.
 *
 * <p>Immutable and thread-safe.
 *
 * @param replicas at least one; a CPU placement is one replica with no GPUs
 * @param reason   the choice in one sentence, for logs and {@code /api/ps}
 */
public record Placement(List<ReplicaPlan> replicas, String reason) {

    public Placement {
        replicas = List.copyOf(replicas);
        Objects.requireNonNull(reason, "reason");
        if (replicas.isEmpty()) {
            throw new IllegalArgumentException("a placement has at least one replica");
        }
    }

    /** Whether every layer of every replica is on GPUs. */
    public boolean fullyOnGpu(ModelSize model) {
        return replicas.stream().allMatch(r -> r.gpuLayers() >= model.allGpuLayers());
    }

    /** Whether the model runs on the CPU alone. */
    public boolean onCpu() {
        return replicas.size() == 1 && replicas.getFirst().onCpu();
    }

    /** Sequences over all replicas. */
    public int totalSequences() {
        return replicas.stream().mapToInt(ReplicaPlan::sequences).sum();
    }
}
