package dev.gantry.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.models.LocalModel;
import dev.gantry.models.ModelRegistry;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.place.Placement;
import dev.gantry.runtime.place.ReplicaPlan;
import dev.gantry.runtime.place.SplitMode;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.testing.FakeEngine;
import dev.gantry.runtime.testing.FakeEngineFactory;
import dev.gantry.runtime.testing.RecordingObserver;
import dev.gantry.runtime.testing.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelManagerTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final String NAME = TestModels.TINY_NAME;

    @TempDir
    Path models;
    private ModelRegistry registry;
    private final List<ModelManager> managers = new ArrayList<>();
    private final List<FakeEngineFactory> factories = new ArrayList<>();

    @BeforeEach
    void copyModel() {
        TestModels.copyTinyModel(models);
        registry = new ModelRegistry(models);
    }

    @AfterEach
    void close() {
        managers.forEach(ModelManager::close);
        for (FakeEngineFactory f : factories) {
            f.engines().forEach(FakeEngine::resume);
            assertEquals(List.of(), f.violations());
        }
    }

    private ModelManager manager(FakeEngineFactory factory) {
        factories.add(factory);
        RuntimeConfig config = RuntimeConfig.defaults().withContextLength(256).withNumParallel(4).withMaxQueue(8);
        ModelManager m = new ModelManager(registry, factory, config, 2);
        managers.add(m);
        return m;
    }

    private static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    private static Throwable failure(CompletableFuture<?> f) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS));
        return e.getCause();
    }

    private static void awaitTrue(BooleanSupplier condition, Duration timeout, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + " did not happen within " + timeout);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void anUnknownModelIsNotFound() throws Exception {
        FakeEngineFactory factory = new FakeEngineFactory();
        ModelManager m = manager(factory);
        Throwable e = failure(m.acquire("x", null));
        assertInstanceOf(ModelNotFoundException.class, e);
        assertEquals("model \"x\" not found, try pulling it first", e.getMessage());
        assertEquals(0, factory.loads());
    }

    @Test
    void anInvalidNameIsAnIllegalArgument() throws Exception {
        ModelManager m = manager(new FakeEngineFactory());
        assertInstanceOf(IllegalArgumentException.class, failure(m.acquire("bad name!", null)));
        assertInstanceOf(IllegalArgumentException.class, failure(m.acquire("", null)));
        assertInstanceOf(IllegalArgumentException.class, failure(m.acquire("../etc/passwd", null)));
    }

    @Test
    void concurrentAcquiresLoadOnce() throws Exception {
        FakeEngineFactory factory = new FakeEngineFactory().loadDelay(Duration.ofMillis(200));
        ModelManager m = manager(factory);
        List<String> names = List.of(NAME, NAME + ":latest", "library/" + NAME, "STORIES260K",
                "registry.ollama.ai/library/" + NAME + ":latest", NAME, NAME, NAME);
        ExecutorService pool = Executors.newFixedThreadPool(names.size());
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<LoadedModel>> results = new ArrayList<>();
            for (String n : names) {
                results.add(pool.submit(() -> {
                    go.await();
                    return get(m.acquire(n, null));
                }));
            }
            go.countDown();
            LoadedModel first = results.getFirst().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            for (Future<LoadedModel> r : results) {
                assertSame(first, r.get(WAIT.toMillis(), TimeUnit.MILLISECONDS));
            }
            assertEquals(1, factory.loads());
            assertEquals("model-loader", factory.calls().getFirst().thread().getName());
            assertEquals(NAME + ":latest", first.name());
            assertEquals(List.of(first), m.loaded());
            assertSame(first, m.loadedModel(NAME + ":latest").orElseThrow());
            assertTrue(first.loadNanos() >= Duration.ofMillis(200).toNanos());
        } finally {
            pool.shutdownNow();
        }
    }

    /*
     * BUG (runtime/src/main/java/dev/gantry/runtime/ModelManager.java, loadedModel(String)): it compares the raw
     * string with LoadedModel.name() ("stories260k:latest") and ModelName.toString() (the full
     * "registry.ollama.ai/library/stories260k:latest"), so the forms that acquire() and unload() accept through
     * ModelName.parse, "stories260k" (no tag) or "library/stories260k", find nothing while the model is loaded.
     * Fix: parse the name (ModelName.parse, catching IllegalArgumentException) and compare ModelName values.
     */
    @Test
    void loadedModelFindsTheModelByAnyFormOfItsName() throws Exception {
        ModelManager m = manager(new FakeEngineFactory());
        LoadedModel model = get(m.acquire(NAME, null));
        for (String form : List.of(NAME + ":latest", "registry.ollama.ai/library/" + NAME + ":latest", NAME,
                "library/" + NAME, "STORIES260K:latest")) {
            assertSame(model, m.loadedModel(form).orElse(null), form);
        }
        assertTrue(m.loadedModel("other").isEmpty());
    }

    @Test
    void aFailedLoadIsReportedAndRetriedByTheNextAcquire() throws Exception {
        IllegalStateException cause = new IllegalStateException("not enough memory");
        FakeEngineFactory factory = new FakeEngineFactory().failNextLoad(cause);
        ModelManager m = manager(factory);
        Throwable e = failure(m.acquire(NAME, null));
        assertInstanceOf(ModelLoadException.class, e);
        assertTrue(e.getMessage().contains(NAME) && e.getMessage().contains("not enough memory"), e.getMessage());
        assertSame(cause, e.getCause());
        assertEquals(List.of(), m.loaded());

        LoadedModel model = get(m.acquire(NAME, null));
        assertEquals(NAME + ":latest", model.name());
        assertEquals(2, factory.loads());
    }

    @Test
    void aRunnerThatCannotStartFailsTheLoadAndClosesTheEngine() throws Exception {
        FakeEngineFactory factory = new FakeEngineFactory(
                FakeEngine.builder().failOpenSession(new IllegalStateException("KV cache too large")));
        ModelManager m = manager(factory);
        Throwable e = failure(m.acquire(NAME, null));
        assertInstanceOf(ModelLoadException.class, e);
        assertTrue(e.getMessage().contains("KV cache too large"), e.getMessage());
        assertTrue(factory.lastEngine().isClosed());
        assertEquals(List.of(), m.loaded());
    }

    @Test
    void keepAliveZeroUnloadsOnceIdle() throws Exception {
        FakeEngineFactory factory = new FakeEngineFactory();
        ModelManager m = manager(factory);
        LoadedModel model = get(m.acquire(NAME, Duration.ZERO));
        FakeEngine engine = factory.lastEngine();
        awaitTrue(() -> m.loaded().isEmpty() && engine.isClosed(), Duration.ofSeconds(5), "unloading");
        assertThrows(IllegalStateException.class, () -> model.generate(
                new GenerationRequest(FakeEngine.prompt("late?"), SamplingParams.greedyDefaults(), -1),
                new RecordingObserver()));
        // the next request loads it again
        assertEquals(NAME + ":latest", get(m.acquire(NAME, null)).name());
        assertEquals(2, factory.loads());
    }

    @Test
    void aModelIsNotUnloadedWhileItGenerates() throws Exception {
        FakeEngineFactory factory = new FakeEngineFactory(FakeEngine.builder().eosAfter(5));
        ModelManager m = manager(factory);
        // held while the work is handed over, as a server request holds it (keep-alive 0 unloads the model as
        // soon as the last hold goes and it is idle)
        LoadedModel.Lease lease = get(m.lease(NAME, Duration.ZERO, LoadOptions.UNSET));
        LoadedModel model = lease.model();
        FakeEngine engine = factory.lastEngine();
        engine.pause();
        RecordingObserver o = new RecordingObserver();
        model.generate(new GenerationRequest(FakeEngine.prompt("busy?"), SamplingParams.greedyDefaults(), -1), o);
        engine.awaitDecodeAtGate(WAIT);
        lease.close();
        Thread.sleep(1500); // at least one pass of the once-a-second reaper sees the model busy
        assertEquals(List.of(model), m.loaded());
        assertFalse(engine.isClosed());
        engine.resume();
        assertEquals(FinishReason.STOP, o.awaitFinish(WAIT).reason());
        awaitTrue(() -> m.loaded().isEmpty() && engine.isClosed(), Duration.ofSeconds(5), "unloading once idle");
    }

    /**
     * Requests whose clients left while they waited for a reload start none of their own and take no hold (clients
     * that gave up had each reloaded the model in turn, with their own options).
     */
    @Test
    void aRequestAbandonedWhileItWaitsStartsNoReload() throws Exception {
        FakeEngineFactory factory = new FakeEngineFactory();
        ModelManager m = manager(factory);
        LoadedModel.Lease held = get(m.lease(NAME, null, LoadOptions.UNSET));
        java.util.concurrent.atomic.AtomicBoolean goneA = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicBoolean goneB = new java.util.concurrent.atomic.AtomicBoolean();
        // a starts a reload, which waits for the held copy; b waits for a's
        CompletableFuture<LoadedModel.Lease> a = m.lease(NAME, null, new LoadOptions(128, null, null, null), goneA::get);
        CompletableFuture<LoadedModel.Lease> b = m.lease(NAME, null, new LoadOptions(200, null, null, null), goneB::get);
        goneA.set(true);
        goneB.set(true);
        held.close();
        assertTrue(failure(a) instanceof java.util.concurrent.CancellationException);
        assertTrue(failure(b) instanceof java.util.concurrent.CancellationException);
        assertEquals(2, factory.loads(), "the first copy and a's reload, begun before its client left; none for b");
        assertTrue(m.lease(NAME, null, LoadOptions.UNSET, () -> true).isCompletedExceptionally(),
                "a request already abandoned does not even look");
    }

    @Test
    void aLoadedModelGeneratesAndExposesItsVocabulary() throws Exception {
        FakeEngineFactory factory = new FakeEngineFactory(FakeEngine.builder().eosAfter(9));
        ModelManager m = manager(factory);
        LoadedModel model = get(m.acquire(NAME, null));
        assertEquals(256, model.contextLength());
        assertEquals(registry.resolve(NAME).orElseThrow().path(), model.model().path());
        assertEquals(FakeEngine.VOCAB_SIZE, model.engineInfo().vocabSize());
        String prompt = model.applyChatTemplate(List.of(new Engine.ChatMessage("user", "Hi")), true);
        int[] tokens = model.tokenize(prompt, true, true);
        RecordingObserver o = new RecordingObserver();
        model.generate(new GenerationRequest(tokens, SamplingParams.greedyDefaults(), -1), o);
        assertEquals(FinishReason.STOP, o.awaitFinish(WAIT).reason());
        assertEquals("Once upon", o.text());
        assertEquals(1, model.stats().completed());
        assertTrue(model.loadedAt().isBefore(Instant.now().plusSeconds(1)));
        Instant expires = model.expiresAt();
        assertTrue(expires.isAfter(Instant.now().plus(Duration.ofMinutes(4))), "the default keep-alive of 5 minutes");
    }

    @Test
    void aRequestsKeepAliveReplacesTheModelsOne() throws Exception {
        ModelManager m = manager(new FakeEngineFactory());
        LoadedModel model = get(m.acquire(NAME, null));
        assertTrue(model.expiresAt().isBefore(Instant.now().plus(Duration.ofMinutes(6))));
        assertSame(model, get(m.acquire(NAME, Duration.ofHours(1))));
        assertTrue(model.expiresAt().isAfter(Instant.now().plus(Duration.ofMinutes(59))));
        get(m.acquire(NAME, Duration.ofSeconds(-1)));
        assertEquals(Instant.MAX, model.expiresAt(), "a negative keep-alive keeps it forever");
    }

    @Test
    void unloadFreesTheModelNow() throws Exception {
        FakeEngineFactory factory = new FakeEngineFactory();
        ModelManager m = manager(factory);
        get(m.acquire(NAME, null));
        assertTrue(m.unload(NAME + ":latest"));
        assertTrue(factory.lastEngine().isClosed());
        assertEquals(List.of(), m.loaded());
        assertFalse(m.unload(NAME), "not loaded any more");
        assertFalse(m.unload("nothing-here"));
    }

    @Test
    void closeUnloadsEverything() throws Exception {
        FakeEngineFactory factory = new FakeEngineFactory();
        ModelManager m = manager(factory);
        get(m.acquire(NAME, null));
        m.close();
        assertTrue(factory.lastEngine().isClosed());
        assertEquals(List.of(), m.loaded());
    }

    @Test
    void loadsEveryReplicaOfThePlanAndSpreadsRequestsOverThem() throws Exception {
        FakeEngineFactory factory = new FakeEngineFactory(FakeEngine.builder().neverEnds());
        ModelManager m = twoReplicaManager(factory);
        LoadedModel model = get(m.acquire(NAME, null));
        assertEquals(2, model.replicas().size());
        assertEquals(2, factory.loads());
        assertEquals(List.of(0), factory.calls().get(0).params().gpus());
        assertEquals(List.of(1), factory.calls().get(1).params().gpus());
        // each replica ran two load probes of its own (two rounds: the faster gives its routing weight)
        for (Replica r : model.replicas()) {
            assertEquals(2, r.runner().stats().completed(), "the load probes of replica " + r.index());
            assertTrue(r.weight() > 0, "replica " + r.index() + " weight " + r.weight());
        }
        // different prompts: no prefix affinity pulls them to one replica (the measured weights, noisy with a fake
        // engine, may tilt the share, never to nothing)
        generateAll(model, "prompt number", 8, 16);
        for (Replica r : model.replicas()) {
            assertTrue(r.runner().stats().completed() >= 2 + 1, "replica " + r.index() + ": " + r.runner().stats());
        }
        assertEquals(4 + 8, model.stats().completed());
    }

    @Test
    void aSingleReplicaIsNotProbed() throws Exception {
        LoadedModel model = get(manager(new FakeEngineFactory(FakeEngine.builder())).acquire(NAME, null));
        assertEquals(1, model.replicas().size());
        assertEquals(0, model.stats().completed());
        assertTrue(Double.isNaN(model.replicas().getFirst().weight()));
    }

    @Test
    void theMemoryGuardSkipsAReplicaWhoseGpuIsNearlyFull() throws Exception {
        ModelManager m = twoReplicaManager(new FakeEngineFactory(FakeEngine.builder().neverEnds()));
        m.gpuMemoryUsed(gpu -> gpu == 0 ? 0.99 : 0.10);
        LoadedModel model = get(m.acquire(NAME, null));
        generateAll(model, "guarded", 4, 8);
        // two load probes each, then every request on the replica with room
        assertEquals(2, model.replicas().get(0).runner().stats().completed());
        assertEquals(2 + 4, model.replicas().get(1).runner().stats().completed());
    }

    @Test
    void submitTellsWhichReplicaTookTheRequestAndWhetherPrefixAffinityChoseIt() throws Exception {
        ModelManager m = twoReplicaManager(new FakeEngineFactory(FakeEngine.builder().neverEnds()));
        LoadedModel model = get(m.acquire(NAME, null));
        GenerationRequest request = new GenerationRequest(FakeEngine.prompt("the same long system prompt and a question"),
                SamplingParams.greedyDefaults(), 4);
        RecordingObserver first = new RecordingObserver();
        Submission a = model.submit(request, first);
        first.awaitFinish(WAIT);
        assertFalse(a.prefixHit(), "a prefix never seen");
        RecordingObserver second = new RecordingObserver();
        Submission b = model.submit(request, second);
        second.awaitFinish(WAIT);
        assertTrue(b.prefixHit(), "the same prefix goes back to its replica");
        assertEquals(a.replica(), b.replica());
        assertEquals(2 + 2, model.replicas().get(a.replica()).runner().stats().completed(), "the load probes and both");
    }

    /**
     * A model split over a pair of GPUs: the first load measures the pair by layer and by tensor (one load each),
     * keeps the faster, and writes the figures down; a later start reads them and loads once.
     */
    @Test
    void aSplitGroupIsMeasuredByLayerAndTensorOnceAndTheFasterIsLoaded(@TempDir Path cache) throws Exception {
        Path file = cache.resolve("split-measurements.properties");
        FakeEngineFactory factory = new FakeEngineFactory()
                .decodeDelay(EngineFactory.Split.LAYER, Duration.ofMillis(30)) // far apart: a loaded machine's
                .decodeDelay(EngineFactory.Split.TENSOR, Duration.ofMillis(1)); // stalls cannot swap them
        LoadedModel model = get(splitManager(factory, file).acquire(NAME, null));
        assertEquals("tensor", model.replicas().getFirst().split());
        assertEquals(List.of(EngineFactory.Split.LAYER, EngineFactory.Split.TENSOR, EngineFactory.Split.TENSOR),
                factory.calls().stream().map(c -> c.params().split()).toList());
        String written = Files.readString(file);
        assertTrue(written.contains("@Card_A+Card_B.layer=") && written.contains("@Card_A+Card_B.tensor="), written);

        FakeEngineFactory again = new FakeEngineFactory();
        LoadedModel reloaded = get(splitManager(again, file).acquire(NAME, null));
        assertEquals("tensor", reloaded.replicas().getFirst().split());
        assertEquals(1, again.loads(), "the figures on disk: no measuring");
    }

    /** A split mode this build cannot load is no candidate: the group stays split by layer. */
    @Test
    void aSplitModeThatFailsToLoadIsLeftOut(@TempDir Path cache) throws Exception {
        FakeEngineFactory factory = new FakeEngineFactory()
                .failSplit(EngineFactory.Split.TENSOR, new IllegalStateException("no tensor split in this build"));
        LoadedModel model = get(splitManager(factory, cache.resolve("m.properties")).acquire(NAME, null));
        assertEquals("layer", model.replicas().getFirst().split());
        assertEquals(3, factory.loads(), "layer measured, tensor failed, layer loaded");
    }

    /** A manager whose planner splits the model over "GPU 0" and "GPU 1", by tensor when measured faster. */
    private ModelManager splitManager(FakeEngineFactory factory, Path measurements) {
        factories.add(factory);
        ReplicaPlanner pair = new ReplicaPlanner() {
            @Override
            public Placement plan(LocalModel model, RuntimeConfig config) {
                return plan(model, config, Map.of());
            }

            @Override
            public Placement plan(LocalModel model, RuntimeConfig config, Map<SplitMode, Double> measured) {
                SplitMode mode = measured.getOrDefault(SplitMode.TENSOR, 0.0) > measured.getOrDefault(SplitMode.LAYER,
                        0.0) ? SplitMode.TENSOR : SplitMode.LAYER;
                return new Placement(List.of(new ReplicaPlan(List.of(0, 1), mode, new float[] {0.5f, 0.5f}, 999,
                        List.of(0L, 0L), 4, "pair split by " + mode.label())), "one pair");
            }

            @Override
            public boolean choosesSplitByMeasurement() {
                return true;
            }

            @Override
            public String gpuName(int gpu) {
                return gpu == 0 ? "Card A" : "Card B";
            }
        };
        ModelManager m = new ModelManager(registry, factory, RuntimeConfig.defaults().withNumParallel(4), 2, pair);
        m.splitMeasurementsFile(measurements);
        managers.add(m);
        return m;
    }

    /** A manager that loads one replica on "GPU 0" and one on "GPU 1" (the fake engine ignores the GPUs). */
    private ModelManager twoReplicaManager(FakeEngineFactory factory) {
        factories.add(factory);
        RuntimeConfig config = RuntimeConfig.defaults().withNumParallel(4).withKeepAlive(Duration.ofMinutes(5));
        ModelManager m = new ModelManager(registry, factory, config, 2,
                ReplicaPlanner.fixedGroups(List.of(List.of(0), List.of(1))));
        managers.add(m);
        return m;
    }

    /** Submits {@code n} greedy generations with distinct prompts and waits for all of them. */
    private static void generateAll(LoadedModel model, String prefix, int n, int maxTokens) {
        List<RecordingObserver> observers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            RecordingObserver o = new RecordingObserver();
            observers.add(o);
            model.generate(new GenerationRequest(FakeEngine.prompt(prefix + " " + i + " " + "x".repeat(i)),
                    SamplingParams.greedyDefaults(), maxTokens), o);
        }
        for (RecordingObserver o : observers) {
            o.awaitFinish(WAIT);
        }
    }
}
