package dev.gantry.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.models.ModelRegistry;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.testing.RecordingObserver;
import dev.gantry.runtime.testing.FakeEngine;
import dev.gantry.runtime.testing.FakeEngineFactory;
import dev.gantry.runtime.testing.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Models in memory: {@code OLLAMA_MAX_LOADED_MODELS} (the shortest keep-alive unloads first, then the least recently
 * used), and reloads on load-time options.
 */
class ModelMemoryTest {
    @TempDir
    Path folder;
    private FakeEngineFactory factory;
    private ModelManager manager;

    @BeforeEach
    void setUp() throws Exception {
        Path tiny = TestModels.copyTinyModel(folder);
        Files.copy(tiny, folder.resolve("a.gguf"));
        Files.copy(tiny, folder.resolve("b.gguf"));
        factory = new FakeEngineFactory();
    }

    @AfterEach
    void tearDown() {
        if (manager != null) {
            manager.close();
        }
        factory.engines().forEach(FakeEngine::resume);
        assertEquals(List.of(), factory.violations());
    }

    private ModelManager manager(int maxLoaded) {
        RuntimeConfig config = RuntimeConfig.defaults().withContextLength(256).withNumParallel(2).withMaxQueue(8)
                .withMaxLoadedModels(maxLoaded);
        manager = new ModelManager(new ModelRegistry(folder), factory, config, 2);
        return manager;
    }

    private static LoadedModel get(CompletableFuture<LoadedModel> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    @Test
    void loadingOneModelTooManyUnloadsTheLeastRecentlyUsed() throws Exception {
        ModelManager m = manager(2);
        LoadedModel a = get(m.acquire("a", null));
        LoadedModel b = get(m.acquire("b", null));
        get(m.acquire("a", null)); // a is now more recent than b
        LoadedModel tiny = get(m.acquire(TestModels.TINY_NAME, null));
        List<String> names = m.loaded().stream().map(LoadedModel::name).sorted().toList();
        assertEquals(List.of("a:latest", TestModels.TINY_NAME + ":latest"), names);
        assertTrue(factory.engines().get(1).isClosed(), "b was unloaded");
        assertFalse(factory.engines().get(0).isClosed(), "a stays");
        assertNotSame(a, tiny);
        assertNotSame(b, tiny);
    }

    /**
     * As Ollama ranks its runners: the shortest keep-alive goes first, a model kept for ever last, whatever was used
     * more recently; among equal keep-alives the least recently used.
     */
    @Test
    void theShortestKeepAliveMakesRoomFirstThenTheLeastRecentlyUsed() throws Exception {
        ModelManager m = manager(2);
        get(m.acquire("a", java.time.Duration.ofSeconds(-1))); // kept for ever
        get(m.acquire("b", java.time.Duration.ofMinutes(5)));
        get(m.acquire("a", null)); // (a request without one leaves the model's own)
        get(m.acquire("b", null)); // b is now the more recent
        get(m.acquire(TestModels.TINY_NAME, java.time.Duration.ofMinutes(5)));
        assertEquals(List.of("a:latest", TestModels.TINY_NAME + ":latest"),
                m.loaded().stream().map(LoadedModel::name).sorted().toList(), "b went: a is kept for ever");
        get(m.acquire("b", java.time.Duration.ofMinutes(5)));
        assertEquals(List.of("a:latest", "b:latest"), m.loaded().stream().map(LoadedModel::name).sorted().toList(),
                "the tiny model went: a is kept for ever");
    }

    /** A loaded model generating (3 tokens, its engine paused mid-decode), no request holding it. */
    private record Busy(LoadedModel model, FakeEngine engine, RecordingObserver observer) {}

    private Busy busy(ModelManager m, String name) throws Exception {
        LoadedModel.Lease lease = m.lease(name, null, LoadOptions.UNSET).get(10, TimeUnit.SECONDS);
        FakeEngine engine = factory.lastEngine();
        engine.pause();
        RecordingObserver o = new RecordingObserver();
        lease.model().generate(new GenerationRequest(FakeEngine.prompt("busy?"), SamplingParams.greedyDefaults(), 3),
                o);
        engine.awaitDecodeAtGate(Duration.ofSeconds(10));
        lease.close();
        return new Busy(lease.model(), engine, o);
    }

    /**
     * A model kept busy does not keep another out for ever: once the other waits for its room, it takes no new
     * request (those wait, behind the other, as Ollama's scheduler queues them) and unloads when its work is done.
     * The other was never served while requests kept the first busy.
     */
    @Test
    void aBusyModelTakesNoNewRequestsWhileAnotherWaitsForItsRoom() throws Exception {
        ModelManager m = manager(1);
        Busy busy = busy(m, "a");
        LoadedModel a = busy.model();
        FakeEngine engine = busy.engine();
        RecordingObserver o = busy.observer();
        CompletableFuture<LoadedModel> b = m.acquire("b", null);
        Thread.sleep(300);
        assertFalse(b.isDone(), "b waits for a's room");
        CompletableFuture<LoadedModel.Lease> again = m.lease("a", null, LoadOptions.UNSET);
        Thread.sleep(300);
        assertFalse(again.isDone(), "a new request for a waits behind b");
        engine.resume();
        assertEquals(FinishReason.LENGTH, o.awaitFinish(Duration.ofSeconds(10)).reason(), "a's work ends");
        assertEquals("b:latest", get(b).name());
        LoadedModel.Lease later = again.get(10, TimeUnit.SECONDS);
        assertNotSame(a, later.model(), "a loaded anew, after b");
        later.close();
        assertEquals(3, factory.loads());
        assertTrue(factory.engines().getFirst().isClosed());
    }

    /**
     * A model taken out of memory (its file deleted) while it still generates counts toward the limit until its work
     * ends: another loaded at once over it (two models in memory under a limit of one).
     */
    @Test
    void aRemovedModelStillServingCountsTowardTheLimit() throws Exception {
        ModelManager m = manager(1);
        Busy busy = busy(m, "a");
        FakeEngine engine = busy.engine();
        RecordingObserver o = busy.observer();
        assertTrue(m.remove("a"));
        CompletableFuture<LoadedModel> b = m.acquire("b", null);
        Thread.sleep(300);
        assertFalse(b.isDone(), "b waits while the removed a still generates");
        engine.resume();
        o.awaitFinish(Duration.ofSeconds(10));
        assertEquals("b:latest", get(b).name());
        assertTrue(factory.engines().getFirst().isClosed());
    }

    /**
     * A request that already holds a draining model (an OpenAI request's first choice) may hold it again for its next
     * choice: waiting for the drain, which waits for the first hold to end, would wait for ever.
     */
    @Test
    void aRequestHoldingADrainingModelMayHoldItAgain() throws Exception {
        ModelManager m = manager(1);
        java.util.Set<Object> held = java.util.concurrent.ConcurrentHashMap.newKeySet();
        LoadedModel.Lease first = m.lease("a", null, LoadOptions.UNSET, () -> false, held).get(10, TimeUnit.SECONDS);
        held.add(first.model());
        CompletableFuture<LoadedModel> b = m.acquire("b", null); // a is held: it drains for b
        Thread.sleep(300);
        assertFalse(b.isDone());
        assertFalse(m.lease("a", null, LoadOptions.UNSET).isDone(), "another request waits behind b");
        LoadedModel.Lease second = m.lease("a", null, LoadOptions.UNSET, () -> false, held).get(10, TimeUnit.SECONDS);
        assertSame(first.model(), second.model(), "the same request holds it again");
        second.close();
        first.close();
        assertEquals("b:latest", get(b).name());
    }

    /**
     * A load whose requests all left while it waited for room evicts nothing: the busy model it waited for stays
     * (it was unloaded when its work ended, and the other loaded for nobody).
     */
    @Test
    void aLoadWhoseRequestsLeftEvictsNothing() throws Exception {
        ModelManager m = manager(1);
        Busy busy = busy(m, "a");
        FakeEngine engine = busy.engine();
        RecordingObserver o = busy.observer();
        java.util.concurrent.atomic.AtomicBoolean gone = new java.util.concurrent.atomic.AtomicBoolean();
        CompletableFuture<LoadedModel.Lease> b = m.lease("b", null, LoadOptions.UNSET, gone::get);
        Thread.sleep(300);
        gone.set(true); // its client leaves
        engine.resume();
        o.awaitFinish(Duration.ofSeconds(10));
        java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
                java.util.concurrent.ExecutionException.class, () -> b.get(10, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof java.util.concurrent.CancellationException, e.toString());
        assertEquals(1, factory.loads(), "b was not loaded");
        assertFalse(factory.engines().getFirst().isClosed(), "a was not unloaded for nobody");
        assertSame(busy.model(), m.lease("a", null, LoadOptions.UNSET).get(10, TimeUnit.SECONDS).model(),
                "a takes requests again");
    }

    /** A drained model whose room came from elsewhere takes requests again. */
    @Test
    void aDrainCalledOffLetsRequestsIn() throws Exception {
        ModelManager m = manager(2);
        LoadedModel.Lease held = m.lease("a", null, LoadOptions.UNSET).get(10, TimeUnit.SECONDS);
        LoadedModel.Lease other = m.lease("b", null, LoadOptions.UNSET).get(10, TimeUnit.SECONDS);
        CompletableFuture<LoadedModel> tiny = m.acquire(TestModels.TINY_NAME, null); // waits: both are held
        Thread.sleep(300);
        assertFalse(tiny.isDone());
        other.close(); // b goes idle: it is unloaded, though a (less recently used) was the one drained
        assertEquals(TestModels.TINY_NAME + ":latest", get(tiny).name());
        assertTrue(factory.engines().get(1).isClosed(), "b made the room");
        CompletableFuture<LoadedModel.Lease> a = m.lease("a", null, LoadOptions.UNSET);
        LoadedModel.Lease second = a.get(10, TimeUnit.SECONDS);
        assertSame(held.model(), second.model(), "a takes requests again");
        second.close();
        held.close();
    }

    @Test
    void theDefaultLimitIsThree() throws Exception {
        ModelManager m = manager(0);
        get(m.acquire("a", null));
        get(m.acquire("b", null));
        get(m.acquire(TestModels.TINY_NAME, null));
        assertEquals(3, m.loaded().size());
        assertEquals(3, factory.loads());
    }

    @Test
    void aDifferentNumCtxReloadsTheModelButTheSameDoesNot() throws Exception {
        ModelManager m = manager(3);
        LoadedModel first = get(m.acquire("a", null, new LoadOptions(128, null, null, null)));
        assertEquals(128, first.contextLength());
        assertSame(first, get(m.acquire("a", null, new LoadOptions(128, null, null, null))));
        LoadedModel second = get(m.acquire("a", null, new LoadOptions(64, null, null, null)));
        assertNotSame(first, second);
        assertEquals(64, second.contextLength());
        assertTrue(factory.engines().getFirst().isClosed(), "the old copy was unloaded");
        assertEquals(1, m.loaded().size());
        // no num_ctx means the configured default, which differs from 64: Ollama reloads too
        LoadedModel third = get(m.acquire("a", null));
        assertEquals(256, third.contextLength());
        assertEquals(3, factory.loads());
    }

    @Test
    void numGpuAndMainGpuReachTheEngine() throws Exception {
        ModelManager m = manager(3);
        get(m.acquire("a", null, new LoadOptions(null, 0, null, null)));
        assertEquals(0, factory.calls().getLast().params().gpuLayers());
        get(m.acquire("a", null, new LoadOptions(null, null, null, 16)));
        assertEquals(2, factory.loads(), "num_batch differs from the loaded copy's");
        assertEquals(16, get(m.acquire("a", null, new LoadOptions(null, null, null, 16))).loadOptions().numBatch());
        assertEquals(2, factory.loads());
    }

    @Test
    void keepAliveZeroUnloadsWhenIdleAndNegativeNeverExpires() throws Exception {
        ModelManager m = manager(3);
        LoadedModel forever = get(m.acquire("a", Duration.ofSeconds(-1)));
        assertEquals(java.time.Instant.MAX, forever.expiresAt());
        get(m.acquire("b", Duration.ZERO));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (m.loadedModel("b").isPresent() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(m.loadedModel("b").isEmpty(), "b unloaded by the reaper");
        assertTrue(m.loadedModel("a").isPresent());
    }

    @Test
    void aHeldModelIsNotUnloadedByAReloadUntilItsLeaseCloses() throws Exception {
        ModelManager m = manager(3);
        LoadedModel.Lease held = m.lease("a", null, new LoadOptions(128, null, null, null)).get(10, TimeUnit.SECONDS);
        // another request wants another context: its load waits for the held copy
        CompletableFuture<LoadedModel> other = m.acquire("a", null, new LoadOptions(64, null, null, null));
        Thread.sleep(300);
        assertFalse(other.isDone(), "the reload waits while a request holds the model");
        assertFalse(factory.engines().getFirst().isClosed());
        // the holder still submits to its copy, which serves it
        RecordingObserver o = new RecordingObserver();
        held.model().generate(new GenerationRequest(FakeEngine.prompt("held?"), SamplingParams.greedyDefaults(), 3), o);
        held.close();
        assertEquals(FinishReason.LENGTH, o.awaitFinish(java.time.Duration.ofSeconds(10)).reason());
        assertEquals(64, get(other).contextLength());
        assertTrue(factory.engines().getFirst().isClosed(), "the old copy went once its request was done");
    }

    @Test
    void unloadLetsRunningRequestsFinishFirst() throws Exception {
        factory = new FakeEngineFactory(FakeEngine.builder().eosAfter(5));
        ModelManager m = manager(3);
        LoadedModel a = get(m.acquire("a", null));
        FakeEngine engine = factory.lastEngine();
        engine.pause();
        RecordingObserver o = new RecordingObserver();
        a.generate(new GenerationRequest(FakeEngine.prompt("busy?"), SamplingParams.greedyDefaults(), -1), o);
        engine.awaitDecodeAtGate(java.time.Duration.ofSeconds(10));
        assertTrue(m.unload("a"), "keep_alive 0 with nothing to do");
        assertFalse(engine.isClosed(), "not while it generates");
        engine.resume();
        assertEquals(FinishReason.STOP, o.awaitFinish(java.time.Duration.ofSeconds(10)).reason());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!engine.isClosed() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(engine.isClosed(), "unloaded once idle");
        assertTrue(m.loadedModel("a").isEmpty());
    }

    @Test
    void aRequestWithoutKeepAliveLeavesTheModelsOwn() throws Exception {
        // as Ollama's scheduler: only a request that sends a keep-alive changes a loaded model's
        ModelManager m = manager(3);
        LoadedModel a = get(m.acquire("a", Duration.ofSeconds(-1)));
        assertEquals(java.time.Instant.MAX, a.expiresAt());
        assertSame(a, get(m.acquire("a", null)));
        assertEquals(java.time.Instant.MAX, a.expiresAt(), "still the -1 it was loaded with");
        assertSame(a, get(m.acquire("a", Duration.ofMinutes(5))));
        assertTrue(a.expiresAt().isBefore(java.time.Instant.now().plus(Duration.ofMinutes(6))), a.expiresAt().toString());
    }

    @Test
    void aTinyNumCtxIsRaisedToTheMinimum() throws Exception {
        ModelManager m = manager(3);
        assertEquals(RuntimeConfig.MIN_CONTEXT, get(m.acquire("a", null, new LoadOptions(2, null, null, null)))
                .contextLength());
        assertEquals(RuntimeConfig.MIN_CONTEXT, new LoadOptions(-5, null, null, null).numCtx());
    }

    @Test
    void aModelIsRetiredByOneCallOnly() throws Exception {
        // the reaper, an unload and the loader may all look at one model: only the call that retires it unloads it
        ModelManager m = manager(3);
        LoadedModel a = get(m.acquire("a", null));
        assertTrue(a.retireIfIdle());
        assertFalse(a.retireIfIdle(), "a second caller must not unload it too");
        assertTrue(m.remove("a"));
        assertFalse(factory.engines().getFirst().isClosed(), "retired elsewhere: the remove leaves the unload to that");
        a.unload();
        assertTrue(factory.engines().getFirst().isClosed());
    }
}
