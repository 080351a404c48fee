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
 */
public record Replica(int index, List<Integer> gpus, String split, List<Long> bytesPerGpu, Engine engine,
                      Runner runner) {
    public Replica {
        gpus = List.copyOf(gpus);
        bytesPerGpu = List.copyOf(bytesPerGpu);
    }

    void close() {
        runner.close();
        engine.close();
    }
}
