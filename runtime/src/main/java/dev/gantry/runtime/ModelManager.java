package dev.gantry.runtime;

import dev.gantry.models.LocalModel;
import dev.gantry.models.ModelRegistry;
import dev.gantry.runtime.engine.Engine;
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
    private final Map<String, CompletableFuture<LoadedModel>> models = new ConcurrentHashMap<>();
    private final ExecutorService loader = Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("model-loader").daemon(true).factory());
    private final ScheduledExecutorService reaper = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("model-reaper").daemon(true).factory());

    public ModelManager(ModelRegistry registry, EngineFactory factory, RuntimeConfig config) {
        this(registry, factory, config, Runtime.getRuntime().availableProcessors());
    }

    public ModelManager(ModelRegistry registry, EngineFactory factory, RuntimeConfig config, int processors) {
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
            return CompletableFuture.failedFuture(new ModelNotFoundException(name));
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
        Engine engine;
        try {
            engine = factory.load(model.path(), new EngineFactory.LoadParams(config.gpuLayers(), -1, true));
        } catch (RuntimeException e) {
            throw new ModelLoadException("failed to load model " + model.name().shortName() + ": " + e.getMessage(), e);
        }
        try {
            RunnerConfig rc = RunnerSizing.plan(engine.info(), config, processors);
            Runner runner = Runner.start(model.name().shortName(), engine, rc);
            long took = System.nanoTime() - start;
            LOG.log(System.Logger.Level.INFO, "loaded {0} in {1} ms: {2} sequences of {3} tokens, {4} KV cells, "
                    + "{5} threads, sampling on {6}", model.name().shortName(), took / 1_000_000, rc.maxSequences(),
                    rc.contextPerSequence(), rc.kvCells(), rc.threads(), rc.backendSampling() ? "the device" : "the host");
            return new LoadedModel(model, engine, runner, took, keepAliveNanos);
        } catch (RuntimeException e) {
            engine.close();
            throw new ModelLoadException("failed to start model " + model.name().shortName() + ": " + e.getMessage(), e);
        }
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
