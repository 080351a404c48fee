package dev.gantry.runtime.place;

import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * Everything a placement depends on besides the devices. Build one with {@link #of} and the
 * {@code with...} methods.
 *
 * <p>Immutable and thread-safe.
 *
 * @param model                    the model's sizes
 * @param contextPerSequence       tokens of KV cache each sequence gets
 * @param sequences                sequences each replica decodes together (wanted; fewer if memory says so)
 * @param memoryFraction           the ceiling per GPU, of its total memory ({@code GANTRY_GPU_MEMORY_FRACTION})
 * @param policy                   how to place
 * @param gpus                     the {@code --gpus} selection
 * @param numGpu                   Ollama's {@code num_gpu}: layers to offload; one replica
 * @param mainGpu                  Ollama's {@code main_gpu}: the GPU of a single replica
 * @param measuredTokensPerSecond  decode speed measured per split mode for this model, if any
 */
public record PlacementRequest(ModelSize model, int contextPerSequence, int sequences, double memoryFraction,
                               Policy policy, GpuSelection gpus, OptionalInt numGpu, OptionalInt mainGpu,
                               Map<SplitMode, Double> measuredTokensPerSecond) {

    /** The default ceiling: 85% of each card, leaving room for the CUDA context and other processes. */
    public static final double DEFAULT_MEMORY_FRACTION = 0.85;

    public PlacementRequest {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(gpus, "gpus");
        Objects.requireNonNull(numGpu, "numGpu");
        Objects.requireNonNull(mainGpu, "mainGpu");
        measuredTokensPerSecond = measuredTokensPerSecond.isEmpty() ? Map.of()
                : Map.copyOf(new EnumMap<>(measuredTokensPerSecond));
        if (contextPerSequence < 1 || sequences < 1) {
            throw new IllegalArgumentException("context " + contextPerSequence + " and sequences " + sequences
                    + " must be at least 1");
        }
        if (!(memoryFraction > 0 && memoryFraction <= 1)) {
            throw new IllegalArgumentException("GPU memory fraction " + memoryFraction + " must be in (0, 1]");
        }
    }

    /** A request with the defaults: auto policy, all GPUs, 85% ceiling, no Ollama options, nothing measured. */
    public static PlacementRequest of(ModelSize model, int contextPerSequence, int sequences) {
        return new PlacementRequest(model, contextPerSequence, sequences, DEFAULT_MEMORY_FRACTION, Policy.AUTO,
                GpuSelection.ALL, OptionalInt.empty(), OptionalInt.empty(), Map.of());
    }

    public PlacementRequest withPolicy(Policy p) {
        return new PlacementRequest(model, contextPerSequence, sequences, memoryFraction, p, gpus, numGpu, mainGpu,
                measuredTokensPerSecond);
    }

    public PlacementRequest withGpus(GpuSelection g) {
        return new PlacementRequest(model, contextPerSequence, sequences, memoryFraction, policy, g, numGpu, mainGpu,
                measuredTokensPerSecond);
    }

    public PlacementRequest withMemoryFraction(double f) {
        return new PlacementRequest(model, contextPerSequence, sequences, f, policy, gpus, numGpu, mainGpu,
                measuredTokensPerSecond);
    }

    /** Ollama's {@code num_gpu}; negative means unset, as Ollama's -1. */
    public PlacementRequest withNumGpu(int layers) {
        return new PlacementRequest(model, contextPerSequence, sequences, memoryFraction, policy, gpus,
                layers < 0 ? OptionalInt.empty() : OptionalInt.of(layers), mainGpu, measuredTokensPerSecond);
    }

    /** Ollama's {@code main_gpu}; negative means unset. */
    public PlacementRequest withMainGpu(int gpu) {
        return new PlacementRequest(model, contextPerSequence, sequences, memoryFraction, policy, gpus, numGpu,
                gpu < 0 ? OptionalInt.empty() : OptionalInt.of(gpu), measuredTokensPerSecond);
    }

    public PlacementRequest withMeasured(Map<SplitMode, Double> tokensPerSecond) {
        return new PlacementRequest(model, contextPerSequence, sequences, memoryFraction, policy, gpus, numGpu,
                mainGpu, tokensPerSecond);
    }
}
