package dev.gantry.runtime;

import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.runner.Runner;
import java.util.List;

/**
 * One copy of a model in memory: an engine on a group of GPUs (or the CPU) and the runner that batches its
 * requests. Immutable; the runner inside is thread-safe.
 *
 * @param gpus        the GPUs (llama.cpp's GPU indices) holding this copy; empty on the CPU or where llama.cpp chose
 * @param split       how the copy spreads over its GPUs ("none", "layer", "row", "tensor")
 * @param bytesPerGpu the placement's memory estimate for each of {@code gpus}
 * @param allocatedBytesPerGpu what the library reported allocating on each of {@code gpus} (-1 where unknown)
 * @param weight      decoded tokens per second measured right after loading (NaN where not measured): the
 *                    router's weight for this replica
 * @param wholeOnGpus whether every layer and the output layer went to {@code gpus} (none of the model's layers
 *                    stayed on the CPU)
 */
public record Replica(int index, List<Integer> gpus, String split, List<Long> bytesPerGpu,
                      List<Long> allocatedBytesPerGpu, double weight, Engine engine, Runner runner,
                      boolean wholeOnGpus) {
    public Replica {
        gpus = List.copyOf(gpus);
        bytesPerGpu = List.copyOf(bytesPerGpu);
        allocatedBytesPerGpu = List.copyOf(allocatedBytesPerGpu);
    }

    /** A replica with nothing measured. */
    public Replica(int index, List<Integer> gpus, String split, List<Long> bytesPerGpu, Engine engine, Runner runner) {
        this(index, gpus, split, bytesPerGpu, List.of(), Double.NaN, engine, runner, false);
    }

    /** The same replica with its measured weight. */
    Replica withWeight(double w) {
        return new Replica(index, gpus, split, bytesPerGpu, allocatedBytesPerGpu, w, engine, runner, wholeOnGpus);
    }

    /** The bytes on each GPU as best known: what the library allocated where it said, else the estimate. */
    public List<Long> vramBytesPerGpu() {
        List<Long> out = new java.util.ArrayList<>(bytesPerGpu);
        for (int i = 0; i < out.size() && i < allocatedBytesPerGpu.size(); i++) {
            if (allocatedBytesPerGpu.get(i) > 0) {
                out.set(i, allocatedBytesPerGpu.get(i));
            }
        }
        return List.copyOf(out);
    }

    void close() {
        runner.close();
        engine.close();
    }
}
