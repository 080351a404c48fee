package dev.gantry.runtime;

import dev.gantry.models.LocalModel;
import dev.gantry.models.ModelRegistry;
import dev.gantry.runtime.route.RouteStrategy;
import dev.gantry.runtime.engine.EngineFactory;
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
    private final RuntimeConfig config;
    private final ReplicaLoader replicaLoader;
    private volatile java.util.function.IntToDoubleFunction gpuMemoryUsed = gpu -> Double.NaN;
    private volatile RouteStrategy routeStrategy = RouteStrategy.LEAST_LOADED;
    private final EngineFactory factory;
    private final int processors;
    private final Map<String, Slot> models = new ConcurrentHashMap<>();
    /**
     * Counts requests as they ask for a model, so the last one to arrive sets its keep-alive, as in Ollama, though
     * requests waiting for one load are handed the model in no set order.
     */
    private final java.util.concurrent.atomic.AtomicLong arrivals = new java.util.concurrent.atomic.AtomicLong();
    /** Copies replaced by a reload with other options, still finishing their requests before they unload. */
    private final java.util.Set<LoadedModel> retiring = ConcurrentHashMap.newKeySet();
    /** Models taken out of {@link #models} that still have requests to finish; unloaded by the reaper. */
    private final java.util.Queue<LoadedModel> leaving = new java.util.concurrent.ConcurrentLinkedQueue<>();
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
        this.registry = registry;
        this.config = config;
        this.factory = factory;
        this.processors = Math.max(1, processors);
        this.replicaLoader = new ReplicaLoader(factory, planner, processors);
        reaper.scheduleWithFixedDelay(this::unloadExpired, 1, 1, TimeUnit.SECONDS);
    }

    public ModelRegistry registry() {
        return registry;
    }

    /**
     * Writes a copy of a GGUF model quantized to {@code fileType} (a {@code llama_ftype} number) with this process's
     * cores, waiting on the calling thread (an interrupt stops it); see {@link EngineFactory#quantize}.
     */
    public void quantize(java.nio.file.Path input, java.nio.file.Path output, int fileType)
            throws InterruptedException {
        factory.quantize(input, output, fileType, processors);
    }

    public RuntimeConfig config() {
        return config;
    }

    /**
     * The loaded model, loading it first when needed, not held: it may be unloaded (by a reload with other options,
     * its keep-alive, or the loaded-model limit) before the caller uses it. A request uses {@link #lease} instead.
     * Fails with {@link ModelNotFoundException} for an unknown name, {@link IllegalArgumentException} for an invalid
     * one and {@link ModelLoadException} when loading fails.
     *
     * @param keepAlive this request's keep-alive, or null for the default
     */
    public CompletableFuture<LoadedModel> acquire(String name, Duration keepAlive) {
        return acquire(name, keepAlive, LoadOptions.UNSET);
    }

    /** {@link #acquire(String, Duration)} with load options; see {@link #lease}. */
    public CompletableFuture<LoadedModel> acquire(String name, Duration keepAlive, LoadOptions requested) {
        return lease(name, keepAlive, requested).thenApply(l -> {
            l.close();
            return l.model();
        });
    }

    /**
     * The loaded model, loading it first when needed, held for the request until the lease closes: it is not
     * unloaded while held, nor while its runners have the request's work. The load options are completed from the
     * model's {@code PARAMETER} layer and the configuration; a loaded model whose options differ (or whose file
     * changed) is replaced: the new copy loads once the old one has finished its requests and is unloaded. The
     * keep-alive applies from here, as in Ollama: this request's, else, for a model this request loads, the
     * server's default; a request without one leaves a loaded model's keep-alive as it was.
     *
     * @param keepAlive this request's keep-alive, or null for the default
     */
    public CompletableFuture<LoadedModel.Lease> lease(String name, Duration keepAlive, LoadOptions requested) {
        return lease(name, keepAlive, requested, () -> false);
    }

    /**
     * {@link #lease(String, Duration, LoadOptions)} for a request that may be {@code abandoned} (its client gone)
     * while it waits: once it is, the request starts no load or reload of its own any more and takes no hold; its
     * future fails with a {@link java.util.concurrent.CancellationException}. Ollama's scheduler likewise skips a
     * pending request whose context is done (clients that gave up had each reloaded the model in turn).
     */
    public CompletableFuture<LoadedModel.Lease> lease(String name, Duration keepAlive, LoadOptions requested,
                                                      java.util.function.BooleanSupplier abandoned) {
        return lease(name, keepAlive, requested, abandoned, java.util.Set.of());
    }

    /**
     * As {@link #lease(String, Duration, LoadOptions, java.util.function.BooleanSupplier)} for a request that already
     * holds the models in {@code held} (an OpenAI request's earlier choices): it may hold one of them again while
     * that one drains, since the drain waits for the request's first hold to end, which waits for this one.
     */
    public CompletableFuture<LoadedModel.Lease> lease(String name, Duration keepAlive, LoadOptions requested,
                                                      java.util.function.BooleanSupplier abandoned,
                                                      java.util.Set<?> held) {
        return lease(name, keepAlive, requested, arrivals.incrementAndGet(), abandoned, held);
    }

    /**
     * {@link #lease(String, Duration, LoadOptions)} for the request that came {@code arrival}-th: a keep-alive
     * applies unless a later request's already has (requests that wait for one load get the model in any order).
     */
    private CompletableFuture<LoadedModel.Lease> lease(String name, Duration keepAlive, LoadOptions requested,
                                                       long arrival, java.util.function.BooleanSupplier abandoned,
                                                       java.util.Set<?> held) {
        if (abandoned.getAsBoolean()) {
            return CompletableFuture.failedFuture(new java.util.concurrent.CancellationException(
                    "the request was abandoned while it waited for " + name));
        }
        LocalModel model;
        try {
            model = requireKnown(name);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        LoadOptions options;
        try {
            options = requested.over(LoadOptions.fromParameters(model.parameters())).over(LoadOptions.defaults(config));
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        String key = keyFor(model);
        retireOtherVersions(model, key);
        long keep = keepAliveNanos(keepAlive == null ? config.keepAlive() : keepAlive);
        Slot[] pending = new Slot[1];
        @SuppressWarnings("unchecked")
        CompletableFuture<Void>[] drained = new CompletableFuture[1];
        Slot slot = models.compute(key, (k, old) -> {
            if (old != null && (old.future.isCompletedExceptionally()
                    || (old.future.isDone() && old.future.join().retired()))) {
                old = null; // failed, or unloading: load anew
            }
            if (old != null && old.future.isDone() && old.future.join().draining() != null
                    && !held.contains(old.future.join())) {
                drained[0] = old.future.join().draining(); // it makes room for another model: after that one
                return old;
            }
            if (old == null || old.matches(model, options)) {
                return old != null ? old : newLoad(model, keep, options, null);
            }
            if (!old.future.isDone()) {
                pending[0] = old; // decide once the load in flight has finished
                return old;
            }
            LoadedModel retired = old.future.join();
            LOG.log(System.Logger.Level.INFO, "reloading {0}: {1}", model.name().shortName(),
                    old.options.equals(options) ? "its file changed" : "its load options changed from "
                            + old.options + " to " + options);
            return newLoad(model, keep, options, retired);
        });
        if (pending[0] != null) {
            return pending[0].future.handle((m, e) -> null)
                    .thenCompose(x -> lease(name, keepAlive, requested, arrival, abandoned, held));
        }
        if (drained[0] != null) {
            return drained[0].thenComposeAsync(x -> lease(name, keepAlive, requested, arrival, abandoned, held));
        }
        boolean loading = !slot.future.isDone();
        if (loading) {
            slot.clients.add(abandoned); // whether anyone still waits for the load, before it evicts for it
        }
        CompletableFuture<LoadedModel.Lease> leased = slot.future.handle((m, e) -> {
            if (e != null) {
                models.remove(key, slot); // a failed load is retried by the next request
                Throwable cause = e instanceof java.util.concurrent.CompletionException c ? c.getCause() : e;
                if (cause instanceof NobodyWaits && !abandoned.getAsBoolean()) {
                    // given up for the requests that left before this one was counted: load it for this one
                    return lease(name, keepAlive, requested, arrival, abandoned, held);
                }
                return CompletableFuture.<LoadedModel.Lease>failedFuture(e);
            }
            if (abandoned.getAsBoolean()) {
                return CompletableFuture.<LoadedModel.Lease>failedFuture(new java.util.concurrent.CancellationException(
                        "the request was abandoned while it waited for " + name));
            }
            if (!(held.contains(m) ? m.holdAgain() : m.hold())) {
                // retired between the lookup and now (keep-alive, the loaded-model limit): take a fresh copy
                return lease(name, keepAlive, requested, arrival, abandoned, held);
            }
            if (keepAlive != null) {
                m.keepAlive(keep, arrival);
            } else {
                m.touch(); // no keep_alive: the model's own stays (Ollama sets it only when a request sends one)
            }
            return CompletableFuture.completedFuture(m.lease(model));
        }).thenCompose(f -> f);
        if (loading && !leased.isDone()) {
            slot.waiting.add(leased);
            leased.whenComplete((l, e) -> slot.waiting.remove(leased));
        }
        return leased;
    }

    /**
     * The model a name stands for, as a request would get it, without loading it: a request's own mistakes (its
     * options) are answered only after an unknown model, as Ollama looks the model up first.
     *
     * @throws IllegalArgumentException the name is not valid
     * @throws ModelNotFoundException   there is no such model
     * @throws ModelLoadException       the model is there but cannot be read
     */
    public LocalModel requireKnown(String name) {
        Optional<LocalModel> model = registry.resolve(name);
        if (model.isPresent()) {
            return model.get();
        }
        Optional<String> problem = registry.problem(name);
        throw problem.<RuntimeException>map(p -> new ModelLoadException(p, null))
                .orElseGet(() -> new ModelNotFoundException(name));
    }

    /**
     * Where the decode rates of split models by split mode are kept across restarts (see {@link SplitMeasurements});
     * in memory only until this is called.
     */
    public void splitMeasurementsFile(java.nio.file.Path file) {
        replicaLoader.splitMeasurementsFile(file);
    }

    /** A load given up because every request that waited for it left: a request that came since loads anew. */
    private static final class NobodyWaits extends java.util.concurrent.CancellationException {
        NobodyWaits() {
            super("every request waiting for this load has left; nothing was unloaded for it");
        }
    }

    private final java.util.List<java.util.function.Consumer<LoadedModel>> unloadListeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();

    /**
     * Runs {@code listener} with each model once it is unloaded (its runners closed, their counts final): the metrics
     * take the counts of a copy that came and went between two scrapes.
     */
    public void onUnload(java.util.function.Consumer<LoadedModel> listener) {
        unloadListeners.add(listener);
    }

    /** How the models loaded from now on choose a replica for each request (default least-loaded). */
    public void routeStrategy(RouteStrategy strategy) {
        this.routeStrategy = java.util.Objects.requireNonNull(strategy);
    }

    private Slot newLoad(LocalModel model, long keep, LoadOptions options, LoadedModel retired) {
        String key = keyFor(model);
        if (retired != null) {
            retiring.add(retired);
        }
        java.util.concurrent.atomic.AtomicBoolean started = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.Queue<java.util.function.BooleanSupplier> clients =
                new java.util.concurrent.ConcurrentLinkedQueue<>();
        return new Slot(CompletableFuture.supplyAsync(() -> {
            if (retired != null) {
                try {
                    unloadWhenIdle(retired);
                } finally {
                    retiring.remove(retired);
                }
            }
            makeRoom(key, clients);
            clients.clear(); // not needed once there is room (they hold their requests)
            started.set(true);
            return load(model, keep, options);
        }, loader), options, model, keep, started, new java.util.concurrent.ConcurrentLinkedQueue<>(), clients);
    }

    /**
     * Which model makes room first: the shortest keep-alive (one kept for ever last), as Ollama's scheduler ranks its
     * runners, then the least recently used: a model a client pinned with {@code keep_alive: -1} stays while one
     * that would unload in five minutes anyway goes.
     */
    private static final java.util.Comparator<LoadedModel> EVICTION_ORDER = java.util.Comparator
            .comparingLong(LoadedModel::keepAliveForEviction).thenComparingLong(LoadedModel::lastUsedNanos);

    /**
     * Unloads models ({@link #EVICTION_ORDER}) until one more fits under {@code OLLAMA_MAX_LOADED_MODELS}. A model still
     * generating is waited for, as Ollama waits, rather than cut off. Runs on the loader thread.
     */
    private void makeRoom(String loadingKey, java.util.Queue<java.util.function.BooleanSupplier> clients) {
        int limit = config.loadedModelsLimit();
        LoadedModel draining = null;
        try {
            while (!roomFor(loadingKey, limit, clients)) {
                if (draining == null) {
                    draining = firstToDrain(loadingKey);
                }
                pause();
            }
        } finally {
            if (draining != null && !draining.retired()) {
                draining.undrain(); // room came from elsewhere (or the wait ended): it takes requests again
            }
        }
    }

    /**
     * The first loaded model in {@link #EVICTION_ORDER} other than {@code loadingKey}'s, drained: it takes no new
     * request, so its work ends and the model waiting for its room loads next (a model kept busy would otherwise
     * never become idle, and the other would wait for ever). As Ollama's scheduler, which queues every new request,
     * for whichever model, behind the one waiting for room.
     */
    private LoadedModel firstToDrain(String loadingKey) {
        Optional<LoadedModel> lru = models.entrySet().stream()
                .filter(e -> !e.getKey().equals(loadingKey) && e.getValue().future.isDone()
                        && !e.getValue().future.isCompletedExceptionally())
                .map(e -> e.getValue().future.join())
                .filter(m -> !m.retired())
                .min(EVICTION_ORDER);
        lru.ifPresent(m -> {
            LOG.log(System.Logger.Level.INFO, "{0} takes no new requests until its own end, then unloads: another "
                    + "model waits for its room (OLLAMA_MAX_LOADED_MODELS)", m.name());
            m.drain();
        });
        return lru.orElse(null);
    }

    /**
     * One pass of {@link #makeRoom}: unloads an idle model if one must go; true once one more fits. A load whose
     * requests have all left (their clients gone) evicts nothing: it fails, and the next request loads anew.
     */
    private boolean roomFor(String loadingKey, int limit, java.util.Queue<java.util.function.BooleanSupplier> clients) {
        List<Map.Entry<String, Slot>> others = new ArrayList<>();
        for (Map.Entry<String, Slot> e : models.entrySet()) {
            CompletableFuture<LoadedModel> f = e.getValue().future;
            if (!e.getKey().equals(loadingKey) && f.isDone() && !f.isCompletedExceptionally()) {
                others.add(e);
            }
        }
        // copies deleted or re-created while they serve still take memory until their work ends (the reaper unloads
        // them then): they count, as Ollama counts a runner until it unloads. (Not a reload's old copy: the loader
        // unloads that one itself, in a task that may wait behind this one.)
        long leavingCount = leaving.stream().filter(m -> !m.retired()).count();
        if (others.size() + leavingCount < limit) {
            return true;
        }
        if (!clients.isEmpty() && clients.stream().allMatch(java.util.function.BooleanSupplier::getAsBoolean)) {
            throw new NobodyWaits();
        }
        // of those no request holds and no work keeps (a held one that is not working yet would block the rest)
        Optional<Map.Entry<String, Slot>> lru = others.stream()
                .filter(e -> e.getValue().future.join().retirable())
                .min(java.util.Comparator.comparing(e -> e.getValue().future.join(), EVICTION_ORDER));
        if (lru.isPresent() && lru.get().getValue().future.join().retireIfIdle()) {
            LoadedModel m = lru.get().getValue().future.join();
            models.remove(lru.get().getKey(), lru.get().getValue());
            LOG.log(System.Logger.Level.INFO, "unloading {0}: the shortest keep-alive, then the least recently used, "
                    + "of {1} loaded models (OLLAMA_MAX_LOADED_MODELS)", m.name(), others.size());
            m.unload();
            return others.size() - 1 + leavingCount < limit;
        }
        return false;
    }

    /**
     * Waits until no request holds {@code m} and it has no running or queued generation, then unloads it. Runs on
     * the loader thread.
     */
    private void unloadWhenIdle(LoadedModel m) {
        while (!m.retireIfIdle()) {
            if (m.retired()) {
                return; // retired meanwhile by its keep-alive or an unload, which unloads it
            }
            pause();
        }
        m.unload();
    }

    private static void pause() {
        try {
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ModelLoadException("model manager closed while waiting to unload a model", e);
        }
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
        for (Slot s : models.values()) {
            if (s.future.isDone() && !s.future.isCompletedExceptionally()) {
                out.add(s.future.join());
            }
        }
        return out;
    }

    /**
     * The loaded model a name is served by, by any form of the name ({@code stories260k},
     * {@code library/stories260k:latest}, ...): its own, or the one of another name for the same manifest.
     */
    public Optional<LoadedModel> loadedModel(String name) {
        String key;
        try {
            key = keyOf(name);
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        Slot s = key == null ? null : models.get(key);
        if (s == null || !s.future.isDone() || s.future.isCompletedExceptionally()) {
            return Optional.empty();
        }
        return Optional.of(s.future.join());
    }

    /**
     * Unloads a model once its requests are done: at once when it is idle, else when the last one finishes (as
     * {@code keep_alive: 0} does in Ollama). Requests that come meanwhile are served by it and wait for it to go as
     * well. True when the model was loaded.
     */
    public boolean unload(String name) {
        String key = keyOf(name);
        Slot s = key == null ? null : models.get(key);
        if (s == null) {
            return false;
        }
        long arrival = arrivals.incrementAndGet();
        // still loading: the requests that came before this one and wait for the load take their holds first
        List<CompletableFuture<?>> before = new ArrayList<>(s.waiting);
        before.add(s.future);
        CompletableFuture.allOf(before.toArray(CompletableFuture[]::new)).handle((x, e) -> {
            if (s.future.isDone() && !s.future.isCompletedExceptionally()) {
                LoadedModel m = s.future.join();
                m.keepAlive(0, arrival);
                unloadIfExpired(key, s, m, System.nanoTime());
            }
            return null;
        });
        return true;
    }

    /**
     * {@link #unload(String)} for a request that holds the model: its own hold goes first. The copy it holds, not
     * whatever its first loader's name stands for now (several names may share one copy, and that one may have been
     * re-created with other weights).
     */
    public void unload(LoadedModel.Lease lease) {
        lease.close();
        LoadedModel held = lease.model();
        for (Map.Entry<String, Slot> e : models.entrySet()) {
            Slot s = e.getValue();
            if (s.future.isDone() && !s.future.isCompletedExceptionally() && s.future.join() == held) {
                held.keepAlive(0, arrivals.incrementAndGet());
                unloadIfExpired(e.getKey(), s, held, System.nanoTime());
                return;
            }
        }
    }

    /**
     * Takes a model out of memory for good (its file is deleted): new requests no longer find it, and it is unloaded
     * once its requests are done.
     */
    public boolean remove(String name) {
        Optional<LocalModel> model = registry.resolve(name);
        String key = model.map(this::keyFor).orElse(null);
        if (key != null && namedByAnother(key, model.get().name())) {
            return false; // another name of the same manifest still uses the loaded copy
        }
        Slot s = key == null ? null : models.remove(key);
        if (s == null) {
            return false;
        }
        s.future.thenAccept(m -> {
            leaving.add(m);
            unloadLeaving();
        });
        return true;
    }

    /**
     * A name that now stands for another manifest (re-created, pulled again): the copy of its old one is taken out,
     * and unloaded once its requests are done, as a reload would.
     */
    private void retireOtherVersions(LocalModel model, String key) {
        for (Map.Entry<String, Slot> e : models.entrySet()) {
            Slot s = e.getValue();
            if (!e.getKey().equals(key) && s.model().name().equals(model.name())
                    && !namedByAnother(e.getKey(), model.name()) && models.remove(e.getKey(), s)) {
                LOG.log(System.Logger.Level.INFO, "reloading {0}: it names another model now", model.name().shortName());
                s.future.thenAccept(m -> {
                    leaving.add(m);
                    unloadLeaving();
                });
            }
        }
    }

    /** Whether a name other than {@code except} stands for what is kept under {@code key} (a copy's other names). */
    private boolean namedByAnother(String key, dev.gantry.models.ModelName except) {
        try {
            return registry.list().stream().anyMatch(m -> !m.name().equals(except) && keyFor(m).equals(key));
        } catch (RuntimeException e) {
            return false; // the models folder could not be read: as if alone
        }
    }

    /** The key of a model's slot, or null for a name the registry does not know. */
    private String keyOf(String name) {
        return registry.resolve(name).map(this::keyFor).orElse(null);
    }

    /**
     * What a loaded model is kept under: its weights (the model blob, with its LoRA adapters and projector, in
     * order), as Ollama keys its runners by file, so models of Ollama's store that differ only in their template,
     * system prompt, parameters or messages (a Modelfile's {@code FROM llama3} beside {@code llama3}, an
     * {@code /api/copy}) share one copy in memory, each request rendered with its own model's layers; the file for
     * a loose GGUF.
     */
    String keyFor(LocalModel model) {
        String file = model.path().toAbsolutePath().normalize().toString();
        if (!model.layers().fromStore()) {
            return "file:" + file;
        }
        StringBuilder key = new StringBuilder("weights:").append(file);
        for (java.nio.file.Path adapter : model.layers().adapters()) {
            key.append("+adapter:").append(adapter.getFileName());
        }
        model.layers().projector().ifPresent(p -> key.append("+projector:").append(p.getFileName()));
        // a model whose own parameters load it otherwise than the server's defaults (a Modelfile's num_ctx) keeps a
        // copy of its own: sharing one would reload it at each request that alternates between the two; one whose
        // parameters come to the defaults shares (Ollama compares the options a copy was loaded with)
        LoadOptions own = LoadOptions.fromParameters(model.layers().parameters());
        LoadOptions defaults = LoadOptions.defaults(config);
        if (own.numCtx() != null && !own.numCtx().equals(defaults.numCtx())) {
            key.append("+num_ctx=").append(own.numCtx());
        }
        if (own.numGpu() != null && !own.numGpu().equals(defaults.numGpu())) {
            key.append("+num_gpu=").append(own.numGpu());
        }
        if (own.mainGpu() != null && !own.mainGpu().equals(defaults.mainGpu())) {
            key.append("+main_gpu=").append(own.mainGpu());
        }
        if (own.numBatch() != null && !own.numBatch().equals(defaults.numBatch())) {
            key.append("+num_batch=").append(own.numBatch());
        }
        return key.toString();
    }

    private LoadedModel load(LocalModel model, long keepAliveNanos, LoadOptions options) {
        long start = System.nanoTime();
        RuntimeConfig config = this.config.withContextLength(options.numCtx()).withGpuLayers(options.numGpu())
                .withPromptBudget(options.numBatch());
        List<Replica> replicas = replicaLoader.load(model, config, options);
        long took = System.nanoTime() - start;
        LoadedModel loaded = new LoadedModel(model, replicas, took, keepAliveNanos,
                gpu -> gpuMemoryUsed.applyAsDouble(gpu), options);
        loaded.routeStrategy(routeStrategy);
        loaded.whenUnloaded(() -> unloadListeners.forEach(l -> {
            try {
                l.accept(loaded);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "an unload listener failed", e);
            }
        }));
        // keep_alive 0: unloaded when its last request lets go, as Ollama's scheduler does, not at the next sweep
        loaded.whenLetGoWithoutKeepAlive(() -> {
            try {
                reaper.execute(this::unloadExpired);
            } catch (java.util.concurrent.RejectedExecutionException closed) {
                // the manager is closing: it unloads everything itself
            }
        });
        return loaded;
    }

    private void unloadExpired() {
        long now = System.nanoTime();
        models.forEach((key, s) -> {
            CompletableFuture<LoadedModel> f = s.future;
            if (f.isDone() && !f.isCompletedExceptionally()) {
                unloadIfExpired(key, s, f.join(), now);
            }
        });
        unloadLeaving();
    }

    /** Unloads the models taken out of memory whose requests are done (the reaper and {@link #remove} call it). */
    private void unloadLeaving() {
        for (LoadedModel m : leaving) {
            if (m.retireIfIdle()) {
                leaving.remove(m);
                m.unload();
            } else if (m.retired()) {
                leaving.remove(m); // retired by another path, which unloads it
            }
        }
    }

    private void unloadIfExpired(String key, Slot s, LoadedModel m, long now) {
        if (m.expired(now) && m.retireIfIdle()) {
            models.remove(key, s); // unless a request that found it retired has already replaced it
            LOG.log(System.Logger.Level.INFO, "unloading {0}: idle past its keep-alive", m.name());
            m.unload();
        }
    }

    static long keepAliveNanos(Duration d) {
        return d.isNegative() ? -1 : d.toNanos();
    }

    @Override
    public void close() {
        reaper.shutdownNow();
        loader.shutdownNow();
        for (Slot s : models.values()) {
            if (s.future.isDone() && !s.future.isCompletedExceptionally()) {
                s.future.join().unload();
            }
        }
        models.clear();
        for (LoadedModel m; (m = leaving.poll()) != null; ) {
            m.unload(); // taken out by a delete and still busy: its requests fail as the others' do
        }
    }

    /** A model loaded or loading, with what it was loaded from and with. */
    /**
     * A model loaded or loading. {@code waiting} holds the leases of requests that came while it loaded, until each
     * has its hold: an unload asked for meanwhile waits for them, so it never finds the new model idle in between.
     */
    private record Slot(CompletableFuture<LoadedModel> future, LoadOptions options, LocalModel model, long keep,
                        java.util.concurrent.atomic.AtomicBoolean started,
                        java.util.Queue<CompletableFuture<?>> waiting,
                        java.util.Queue<java.util.function.BooleanSupplier> clients) {

        /**
         * Whether {@code other} with {@code wanted} is what this slot holds: the same options and file, and for a
         * loose GGUF the same file state (a store's blobs are named by their content, and another name of the same
         * manifest has a manifest file of its own, with its own time).
         */
        boolean matches(LocalModel other, LoadOptions wanted) {
            return options.equals(wanted) && model.path().equals(other.path())
                    && (other.layers().fromStore() || model.modifiedAt().equals(other.modifiedAt()));
        }
    }

    /**
     * A model still loading, as {@code /api/ps} shows it (Ollama lists a runner from the start of its load): its
     * model, load options and when it would expire if the load ended now.
     */
    public record Loading(LocalModel model, LoadOptions options, java.time.Instant expiresAt) {}

    /**
     * The models loading now (not yet in {@link #loaded()}); a reload is left out while the copy it replaces still
     * finishes its requests (that copy is in {@link #inMemory()}), as Ollama has one runner a model at a time.
     */
    public List<Loading> loading() {
        List<Loading> out = new ArrayList<>();
        for (Slot s : models.values()) {
            // only a load under way: one still waiting for room (OLLAMA_MAX_LOADED_MODELS) is a queued request
            if (!s.future.isDone() && s.started().get() && !replacing(s.model)) {
                java.time.Instant expires = s.keep < 0 ? java.time.Instant.MAX
                        : java.time.Instant.now().plusNanos(s.keep);
                out.add(new Loading(s.model, s.options, expires));
            }
        }
        return out;
    }

    /** Whether a copy of {@code model}'s name that a reload replaces still finishes its requests. */
    private boolean replacing(LocalModel model) {
        return retiring.stream().anyMatch(m -> !m.retired() && m.model().name().equals(model.name()));
    }

    /**
     * Every model in memory: {@link #loaded()}, and the copies that are on their way out but still answer requests
     * (one replaced by a reload with other options, one whose file was deleted), for {@code /api/ps}.
     */
    public List<LoadedModel> inMemory() {
        java.util.LinkedHashSet<LoadedModel> out = new java.util.LinkedHashSet<>(loaded());
        for (LoadedModel m : retiring) {
            if (!m.retired()) {
                out.add(m);
            }
        }
        for (LoadedModel m : leaving) {
            if (!m.retired()) {
                out.add(m);
            }
        }
        return new ArrayList<>(out);
    }
}
