package dev.gantry.runtime;

import dev.gantry.models.LocalModel;
import dev.gantry.runtime.place.Placement;
import dev.gantry.runtime.place.ReplicaPlan;
import dev.gantry.runtime.place.SplitMode;
import java.util.List;

/**
 * Decides where the replicas of a model go when it loads. {@link dev.gantry.runtime.place.GpuPlacement} plans from
 * the GPUs found and the model's size; the simpler ones here serve a machine without GPU discovery.
 */
@FunctionalInterface
public interface ReplicaPlanner {
    /**
     * The replicas to load. A replica with no GPUs and {@code gpuLayers > 0} is left to llama.cpp's own placement
     * (every GPU it sees); with {@code gpuLayers == 0} it runs on the CPU.
     */
    Placement plan(LocalModel model, RuntimeConfig config);

    /**
     * {@link #plan}, knowing the decode rates measured for this model by split mode on the GPUs of its split group
     * (empty when none were). The default ignores them.
     */
    default Placement plan(LocalModel model, RuntimeConfig config, java.util.Map<SplitMode, Double> measured) {
        return plan(model, config);
    }

    /**
     * Whether this planner picks a split group's mode from measured decode rates (then the model manager measures
     * layer against tensor split the first time a model is split over a group, and plans again with the rates).
     */
    default boolean choosesSplitByMeasurement() {
        return false;
    }

    /** A GPU's name for the measurements' key (the same model on another kind of card measures again). */
    default String gpuName(int gpu) {
        return "GPU " + gpu;
    }

    /** One replica, placed by llama.cpp (all layers on its GPUs if it has any, else the CPU). */
    static ReplicaPlanner llamaDefault() {
        return (model, config) -> {
            int sequences = RunnerSizing.sequences((int) model.metadata().contextLength().orElse(0), config);
            int layers = config.gpuLayers() < 0 ? 999 : config.gpuLayers();
            return new Placement(List.of(new ReplicaPlan(List.of(), SplitMode.NONE, new float[0], layers, List.of(),
                    sequences, "placed by llama.cpp")), "one replica placed by llama.cpp (no GPU inventory)");
        };
    }

    /** One replica per group of GPUs, as given; a group of several GPUs is split by layer in equal parts. */
    static ReplicaPlanner fixedGroups(List<List<Integer>> groups) {
        if (groups.isEmpty()) {
            return llamaDefault();
        }
        return (model, config) -> {
            int sequences = RunnerSizing.sequences((int) model.metadata().contextLength().orElse(0), config);
            List<ReplicaPlan> replicas = groups.stream().map(g -> {
                float[] split = new float[g.size()];
                java.util.Arrays.fill(split, 1f / g.size());
                return new ReplicaPlan(g, g.size() == 1 ? SplitMode.NONE : SplitMode.LAYER, split,
                        config.gpuLayers() < 0 ? 999 : config.gpuLayers(), g.stream().map(x -> 0L).toList(),
                        sequences, "GPUs " + g + " as given");
            }).toList();
            return new Placement(replicas, "one replica per GPU group given: " + groups);
        };
    }
}
