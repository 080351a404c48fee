package dev.gantry.runtime.place;

import dev.gantry.llama.gpu.GpuInfo;
import dev.gantry.llama.gpu.GpuInventory;
import dev.gantry.models.LocalModel;
import dev.gantry.models.footprint.FootprintEstimator;
import dev.gantry.models.footprint.KvCacheType;
import dev.gantry.models.footprint.ModelFootprint;
import dev.gantry.runtime.ReplicaPlanner;
import dev.gantry.runtime.RunnerSizing;
import dev.gantry.runtime.RuntimeConfig;
import java.util.List;

/**
 * Plans replicas from the GPUs discovery found and the model's size (weights, KV cache, compute buffers) with
 * {@link PlacementPlanner}. A model whose size cannot be read from its GGUF is left to llama.cpp, and says so.
 * Immutable and thread-safe.
 */
public final class GpuPlacement implements ReplicaPlanner {
    private static final System.Logger LOG = System.getLogger("gantry.place");

    private final List<Device> devices;
    private final GpuSelection selection;
    private final Policy policy;
    private final double memoryFraction;

    public GpuPlacement(List<Device> devices, GpuSelection selection, Policy policy, double memoryFraction) {
        this.devices = List.copyOf(devices);
        this.selection = selection;
        this.policy = policy;
        this.memoryFraction = memoryFraction;
    }

    /** A planner over the GPUs a report found. */
    public static GpuPlacement from(dev.gantry.runtime.gpu.GpuReport report, GpuSelection selection, Policy policy,
                                    double memoryFraction) {
        return new GpuPlacement(devices(report.inventory()), selection, policy, memoryFraction);
    }

    /** The planner's view of what discovery found: the GPUs llama.cpp can use, their memory and peers. */
    public static List<Device> devices(GpuInventory inventory) {
        return inventory.gpus().stream().filter(GpuInfo::usableByLlama)
                .map(g -> new Device(g.index(), g.name(), Math.max(0, g.totalBytes()),
                        g.freeBytes() >= 0 ? g.freeBytes() : Math.max(0, g.totalBytes()),
                        inventory.peers().peersOf(g.index())))
                .toList();
    }

    @Override
    public Placement plan(LocalModel model, RuntimeConfig config) {
        return plan(model, config, java.util.Map.of());
    }

    /** Auto and explicit groups pick a group's split mode by measurement; a forced {@code split=} does not. */
    @Override
    public boolean choosesSplitByMeasurement() {
        return !(policy instanceof Policy.Split) && devices.size() >= 2;
    }

    @Override
    public String gpuName(int gpu) {
        return devices.stream().filter(d -> d.id() == gpu).map(Device::name).findFirst().orElse("GPU " + gpu);
    }

    @Override
    public Placement plan(LocalModel model, RuntimeConfig config, java.util.Map<SplitMode, Double> measured) {
        int train = (int) model.metadata().contextLength().orElse(0);
        int context = RunnerSizing.contextPerSequence(train, config);
        int sequences = RunnerSizing.sequences(train, config);
        ModelFootprint footprint;
        try {
            footprint = FootprintEstimator.estimate(model); // its LoRA adapters too
        } catch (IllegalArgumentException e) {
            LOG.log(System.Logger.Level.WARNING, "{0}: cannot size the model ({1}); llama.cpp places it",
                    model.name().shortName(), e.getMessage());
            return ReplicaPlanner.llamaDefault().plan(model, config);
        }
        long cellsPerStream = config.kvUnified() ? (long) context * sequences : context;
        ModelSize size = ModelSize.of(footprint, KvCacheType.F16, 512, cellsPerStream);
        PlacementRequest request = PlacementRequest.of(size, context, sequences)
                .withPolicy(policy).withGpus(selection).withMemoryFraction(memoryFraction)
                .withNumGpu(config.gpuLayers()).withMeasured(measured);
        return PlacementPlanner.plan(devices, request);
    }
}
