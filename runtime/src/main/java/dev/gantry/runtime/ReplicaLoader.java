package dev.gantry.runtime;

import dev.gantry.models.LocalModel;
import dev.gantry.runtime.engine.AllocationRecord;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.place.Placement;
import dev.gantry.runtime.place.ReplicaPlan;
import dev.gantry.runtime.place.SplitMode;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Puts one model on the devices: plans its replicas, measures the split modes of a split model the first time it
 * loads on a group of GPUs, loads each replica's engine and starts its runner, and weighs the replicas by a short
 * decode each. What {@link ModelManager} calls on its loader thread; it keeps the models it gets from here.
 */
final class ReplicaLoader {
    private static final System.Logger LOG = System.getLogger("gantry.models");

    private final EngineFactory factory;
    private final ReplicaPlanner planner;
    private final int processors;
    private volatile SplitMeasurements splitMeasurements = new SplitMeasurements(null);

    ReplicaLoader(EngineFactory factory, ReplicaPlanner planner, int processors) {
        this.factory = factory;
        this.planner = planner;
        this.processors = processors;
    }

    /** Where the decode rates of split models by split mode are kept across restarts; in memory until this is set. */
    void splitMeasurementsFile(java.nio.file.Path file) {
        this.splitMeasurements = new SplitMeasurements(file);
    }

    /** The model's replicas, loaded, running and weighed; on failure none is left loaded. */
    List<Replica> load(LocalModel model, RuntimeConfig config, LoadOptions options) {
        Placement placement = planner.plan(model, config);
        Optional<ReplicaPlan> group = placement.replicas().stream()
                .filter(r -> r.gpus().size() > 1 && r.mode() == SplitMode.LAYER).findFirst();
        // with LoRA adapters the group stays split by layer: llama.cpp puts an adapter's matrices in the buffers of the
        // weights they adapt, which a tensor split shares out in ways not tried with adapters here
        if (planner.choosesSplitByMeasurement() && group.isPresent() && model.layers().adapters().isEmpty()) {
            String key = SplitMeasurements.key(model.contentKey(),
                    group.get().gpus().stream().map(planner::gpuName).toList());
            Map<SplitMode, Double> measured = splitMeasurements.get(key);
            if (measured.isEmpty()) {
                measured = measureSplits(model, group.get(), config, options);
                splitMeasurements.put(key, measured);
            }
            placement = planner.plan(model, config, measured);
        }
        LOG.log(System.Logger.Level.INFO, "{0}: {1}", model.name().shortName(), placement.reason());
        List<Replica> replicas = new ArrayList<>();
        try {
            for (ReplicaPlan plan : placement.replicas()) {
                replicas.add(loadReplica(model, replicas.size(), placement.replicas().size(), plan, config, options));
            }
        } catch (RuntimeException e) {
            replicas.forEach(Replica::close);
            throw e;
        }
        return weigh(replicas, probeToken(replicas.getFirst()));
    }

    /** A token to prompt the load probe with: the model's first token of "The", else token 1. */
    private static int probeToken(Replica r) {
        try {
            int[] t = r.engine().tokenize("The", false, false);
            return t.length > 0 ? t[0] : 1;
        } catch (RuntimeException e) {
            return 1;
        }
    }

    private Replica loadReplica(LocalModel model, int index, int count, ReplicaPlan plan, RuntimeConfig config,
                                LoadOptions options) {
        String name = model.name().shortName() + (count > 1 ? "#" + index : "");
        EngineFactory.LoadParams params = withOptions(loadParams(plan, config), plan, options)
                .withAdapters(model.layers().adapters());
        long start = System.nanoTime();
        try (AllocationRecord allocations = factory.recordAllocations()) {
            Engine engine;
            try {
                engine = factory.load(model.path(), params);
            } catch (RuntimeException e) {
                throw new ModelLoadException("failed to load model " + name + ": " + e.getMessage(), e);
            }
            try {
                RunnerConfig rc = RunnerSizing.plan(engine.info(), config.withNumParallel(plan.sequences()), processors);
                Runner runner = Runner.start(name, engine, rc);
                LOG.log(System.Logger.Level.INFO, "loaded {0} on {1} in {2} ms: {3} sequences of {4} tokens, {5} KV "
                        + "cells, {6} threads, sampling on {7}", name, engine.info().devices(),
                        (System.nanoTime() - start) / 1_000_000, rc.maxSequences(), rc.contextPerSequence(),
                        rc.kvCells(), rc.threads(), rc.backendSampling() ? "the device" : "the host");
                List<Long> allocated = plan.gpus().stream().map(allocations::gpuBytes).toList();
                String memory = LoadProbe.memoryReport(plan.gpus(), plan.bytesPerGpu(), allocated);
                if (!memory.isEmpty()) {
                    LOG.log(System.Logger.Level.INFO, "memory of {0}: {1}", name, memory);
                }
                // every layer and the output on the GPUs: n_gpu_layers past the model's blocks (or llama.cpp's -1)
                long blocks = model.metadata().blockCount().orElse(Long.MAX_VALUE - 1);
                boolean whole = !plan.gpus().isEmpty() && (params.gpuLayers() < 0 || params.gpuLayers() > blocks);
                return new Replica(index, plan.gpus(), plan.mode().label(), plan.bytesPerGpu(), allocated, Double.NaN,
                        engine, runner, whole);
            } catch (RuntimeException e) {
                engine.close();
                throw new ModelLoadException("failed to start model " + name + ": " + e.getMessage(), e);
            }
        }
    }

    /**
     * Loads one split group by layer and then by tensor, measures each one's decode rate with a short generation
     * (the better of two: the first may still build kernels) and unloads it: the rates the planner picks the
     * group's split mode from. A mode that fails to load is left out (this llama.cpp build may lack it).
     */
    private Map<SplitMode, Double> measureSplits(LocalModel model, ReplicaPlan group, RuntimeConfig config,
                                                 LoadOptions options) {
        Map<SplitMode, Double> rates = new java.util.EnumMap<>(SplitMode.class);
        for (SplitMode mode : List.of(SplitMode.LAYER, SplitMode.TENSOR)) {
            ReplicaPlan plan = new ReplicaPlan(group.gpus(), mode, group.tensorSplit(), group.gpuLayers(),
                    group.bytesPerGpu(), group.sequences(), group.reason() + " (measuring " + mode.label() + ")");
            Replica r;
            try {
                r = loadReplica(model, 0, 1, plan, config, options);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.INFO, "{0}: split by {1} does not load here ({2}); not a candidate",
                        model.name().shortName(), mode.label(), e.getMessage());
                continue;
            }
            try {
                int token = probeToken(r);
                double rate = Math.max(LoadProbe.decodeRate(r.runner(), token, Duration.ofSeconds(60)),
                        LoadProbe.decodeRate(r.runner(), token, Duration.ofSeconds(60)));
                if (rate > 0) {
                    rates.put(mode, rate);
                }
                LOG.log(System.Logger.Level.INFO, "{0}: split by {1} over GPUs {2} decodes {3} tokens/s",
                        model.name().shortName(), mode.label(), group.gpus(),
                        String.format(java.util.Locale.ROOT, "%.1f", rate));
            } finally {
                r.close();
            }
        }
        return rates;
    }

    /**
     * Measures each replica's decode rate with a short generation, one replica at a time while none serves, so
     * the router can weigh a slower card less. Only where there is a choice to make (two replicas or more). Two
     * rounds, keeping each replica's faster one: the first probe of a process also pays for the host code's first
     * runs, which made the replica probed first look 10% to 15% slower than an identical card probed after it.
     */
    private List<Replica> weigh(List<Replica> replicas, int promptToken) {
        if (replicas.size() < 2) {
            return replicas;
        }
        double[] best = new double[replicas.size()];
        java.util.Arrays.fill(best, Double.NaN);
        for (int round = 0; round < 2; round++) {
            for (int i = 0; i < replicas.size(); i++) {
                double rate = LoadProbe.decodeRate(replicas.get(i).runner(), promptToken, Duration.ofSeconds(30));
                if (rate > 0 && !(best[i] >= rate)) {
                    best[i] = rate;
                }
            }
        }
        double[] weights = LoadedModel.routingWeights(best);
        List<Replica> out = new ArrayList<>();
        for (int i = 0; i < replicas.size(); i++) {
            Replica r = replicas.get(i);
            LOG.log(System.Logger.Level.INFO, "weight of {0}: {1} tokens/s on {2} (routing weight {3})",
                    r.runner().name(), String.format(java.util.Locale.ROOT, "%.1f", best[i]), r.gpus(),
                    String.format(java.util.Locale.ROOT, "%.2f", weights[i]));
            out.add(r.withWeight(best[i]));
        }
        return out;
    }

    /** What the engine needs from a plan: which GPUs, how split, how many layers. */
    static EngineFactory.LoadParams loadParams(ReplicaPlan plan, RuntimeConfig config) {
        if (plan.gpus().isEmpty()) {
            return new EngineFactory.LoadParams(plan.gpuLayers() == 0 ? 0 : config.gpuLayers(), -1, true);
        }
        if (plan.gpus().size() == 1) {
            return EngineFactory.LoadParams.onGpu(plan.gpuLayers(), plan.gpus().getFirst());
        }
        float[] shares = plan.tensorSplit();
        int max = plan.gpus().stream().mapToInt(Integer::intValue).max().orElse(0);
        float[] byGpu = new float[max + 1];
        for (int i = 0; i < shares.length; i++) {
            byGpu[plan.gpus().get(i)] = shares[i];
        }
        EngineFactory.Split split = switch (plan.mode()) {
            case NONE, LAYER -> EngineFactory.Split.LAYER;
            case ROW -> EngineFactory.Split.ROW;
            case TENSOR -> EngineFactory.Split.TENSOR;
        };
        return EngineFactory.LoadParams.acrossGpus(plan.gpuLayers(), plan.gpus(), split, byGpu);
    }

    /**
     * A request's {@code num_gpu} and {@code main_gpu} over the plan: {@code num_gpu} caps the layers offloaded
     * (0 keeps the model on the CPU); {@code main_gpu} moves a single-GPU replica to that GPU.
     */
    static EngineFactory.LoadParams withOptions(EngineFactory.LoadParams p, ReplicaPlan plan, LoadOptions options) {
        int layers = p.gpuLayers();
        Integer numGpu = options.numGpu();
        if (numGpu != null && numGpu >= 0) {
            layers = layers < 0 ? numGpu : Math.min(layers, numGpu);
        }
        Integer mainGpu = options.mainGpu();
        if (mainGpu != null && mainGpu >= 0 && plan.gpus().size() == 1) {
            return EngineFactory.LoadParams.onGpu(layers, mainGpu);
        }
        return new EngineFactory.LoadParams(layers, p.mainGpu(), p.useMmap(), p.split(), p.gpus(), p.tensorSplit(),
                p.adapters());
    }
}
