package dev.gantry.runtime;

import dev.gantry.models.LocalModel;
import dev.gantry.models.ModelRegistry;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.place.Placement;
import dev.gantry.runtime.place.ReplicaPlan;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Loads models on first use, keeps them while they are used, and unloads them after their keep-alive. Loading runs
 * on one loader thread, so a request thread (or an event loop) only waits on a future. Thread-safe.
 */
public final class ModelManager implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("gantry.models");

    private final ModelRegistry registry;
    private final EngineFactory factory;
    private final RuntimeConfig config;
    private final int processors;
    private final ReplicaPlanner planner;
    private volatile java.util.function.IntToDoubleFunction gpuMemoryUsed = gpu -> Double.NaN;
    private final Map<String, CompletableFuture<LoadedModel>> models = new ConcurrentHashMap<>();
    private final ExecutorService loader = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("model-loader").daemon(true).factory());
    private final ScheduledExecutorService reaper = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("model-reaper").daemon(true).factory());

    public ModelManager(ModelRegistry registry, EngineFactory factory, RuntimeConfig config) {
        this(registry, factory, config, Runtime.getRuntime().availableProcessors());
    }

    public ModelManager(ModelRegistry registry, EngineFactory factory, RuntimeConfig config, int processors) {
        this(registry, factory, config, processors, ReplicaPlanner.llamaDefault());
    }

    /** @param planner where each model's replicas go when it loads */
    public ModelManager(ModelRegistry registry, EngineFactory factory, RuntimeConfig config, int processors,
                        ReplicaPlanner planner) {
        this.planner = planner;
        this.registry = registry;
        this.factory = factory;
        this.config = config;
        this.processors = processors;
        reaper.scheduleWithFixedDelay(this::unloadExpired, 1, 1, TimeUnit.SECONDS);
    }

    public ModelRegistry registry() {
        return registry;
    }

    public RuntimeConfig config() {
        return config;
    }

    /**
     * The loaded model, loading it first when needed. Fails with {@link ModelNotFoundException} for an unknown
     * name, {@link IllegalArgumentException} for an invalid one and {@link ModelLoadException} when loading fails.
     *
     * @param keepAlive this request's keep-alive, or null for the default
     */
    public CompletableFuture<LoadedModel> acquire(String name, Duration keepAlive) {
        LocalModel model;
        try {
            model = registry.resolve(name).orElse(null);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (model == null) {
            Optional<String> problem = registry.problem(name);
            return CompletableFuture.failedFuture(problem.<RuntimeException>map(p -> new ModelLoadException(p, null))
                    .orElseGet(() -> new ModelNotFoundException(name)));
        }
        String key = model.name().toString();
        long keep = keepAliveNanos(keepAlive == null ? config.keepAlive() : keepAlive);
        CompletableFuture<LoadedModel> f = models.computeIfAbsent(key,
                k -> CompletableFuture.supplyAsync(() -> load(model, keep), loader));
        return f.whenComplete((m, e) -> {
            if (e != null) {
                models.remove(key, f); // a failed load is retried by the next request
            } else if (keepAlive != null) {
                m.keepAlive(keep);
            } else {
                m.touch();
            }
        });
    }

    /**
     * Where the router reads each GPU's memory use (a fraction, NaN when unknown), for its memory guard: a replica
     * on a GPU above the ceiling is skipped while another has room. The server feeds it from the NVML monitor.
     */
    public void gpuMemoryUsed(java.util.function.IntToDoubleFunction view) {
        this.gpuMemoryUsed = view;
    }

    /** The models in memory now, for {@code /api/ps}. */
    public List<LoadedModel> loaded() {
        List<LoadedModel> out = new ArrayList<>();
        for (CompletableFuture<LoadedModel> f : models.values()) {
            if (f.isDone() && !f.isCompletedExceptionally()) {
                out.add(f.join());
            }
        }
        return out;
    }

    /** A loaded model by any form of its name ({@code stories260k}, {@code library/stories260k:latest}, ...). */
    public Optional<LoadedModel> loadedModel(String name) {
        Optional<dev.gantry.models.ModelName> wanted = dev.gantry.models.ModelName.tryParse(name);
        return wanted.flatMap(w -> loaded().stream().filter(m -> m.model().name().equals(w)).findFirst());
    }

    /** Unloads a model now; its in-flight generations fail. */
    public boolean unload(String name) {
        Optional<LocalModel> model = registry.resolve(name);
        if (model.isEmpty()) {
            return false;
        }
        CompletableFuture<LoadedModel> f = models.remove(model.get().name().toString());
        if (f == null) {
            return false;
        }
        f.thenAccept(LoadedModel::unload);
        return true;
    }

    private LoadedModel load(LocalModel model, long keepAliveNanos) {
        long start = System.nanoTime();
        Placement placement = planner.plan(model, config);
        LOG.log(System.Logger.Level.INFO, "{0}: {1}", model.name().shortName(), placement.reason());
        List<Replica> replicas = new ArrayList<>();
        try {
            for (ReplicaPlan plan : placement.replicas()) {
                replicas.add(loadReplica(model, replicas.size(), placement.replicas().size(), plan));
            }
        } catch (RuntimeException e) {
            replicas.forEach(Replica::close);
            throw e;
        }
        long took = System.nanoTime() - start;
        return new LoadedModel(model, replicas, took, keepAliveNanos, gpu -> gpuMemoryUsed.applyAsDouble(gpu));
    }

    private Replica loadReplica(LocalModel model, int index, int count, ReplicaPlan plan) {
        String name = model.name().shortName() + (count > 1 ? "#" + index : "");
        EngineFactory.LoadParams params = loadParams(plan, config);
        long start = System.nanoTime();
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
                    (System.nanoTime() - start) / 1_000_000, rc.maxSequences(), rc.contextPerSequence(), rc.kvCells(),
                    rc.threads(), rc.backendSampling() ? "the device" : "the host");
            return new Replica(index, plan.gpus(), plan.mode().label(), plan.bytesPerGpu(), engine, runner);
        } catch (RuntimeException e) {
            engine.close();
            throw new ModelLoadException("failed to start model " + name + ": " + e.getMessage(), e);
        }
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

    private void unloadExpired() {
        long now = System.nanoTime();
        models.forEach((key, f) -> {
            if (f.isDone() && !f.isCompletedExceptionally()) {
                LoadedModel m = f.join();
                if (m.expired(now) && models.remove(key, f)) {
                    LOG.log(System.Logger.Level.INFO, "unloading {0}: idle past its keep-alive", m.name());
                    m.unload();
                }
            }
        });
    }

    static long keepAliveNanos(Duration d) {
        return d.isNegative() ? -1 : d.toNanos();
    }

    @Override
    public void close() {
        reaper.shutdownNow();
        loader.shutdownNow();
        for (CompletableFuture<LoadedModel> f : models.values()) {
            if (f.isDone() && !f.isCompletedExceptionally()) {
                f.join().unload();
            }
        }
        models.clear();
    }
}
