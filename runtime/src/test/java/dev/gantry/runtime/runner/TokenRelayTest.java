package dev.gantry.runtime.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.testing.FakeEngine;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TokenRelayTest {
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final FakeEngine VOCAB = FakeEngine.create();
    private static final GenerationMetrics METRICS = new GenerationMetrics(7, 30, 1, 2, 3, 6, 0);

    private final ExecutorService loop = Executors.newSingleThreadExecutor(r -> new Thread(r, "event-loop"));

    @AfterEach
    void stop() throws InterruptedException {
        loop.shutdownNow();
        assertTrue(loop.awaitTermination(5, TimeUnit.SECONDS));
    }

    /** Records what a relay delivers, and checks it is called on one thread, never concurrently. */
    static final class RecordingSink implements TokenRelay.Sink {
        final StringBuffer text = new StringBuffer();
        final List<String> chunks = new CopyOnWriteArrayList<>();
        final CompletableFuture<Object[]> done = new CompletableFuture<>();
        final CompletableFuture<Throwable> error = new CompletableFuture<>();
        final Set<Thread> threads = ConcurrentHashMap.newKeySet();
        final AtomicInteger inside = new AtomicInteger();
        final AtomicInteger overlaps = new AtomicInteger();
        volatile boolean writable = true;
        volatile RuntimeException throwOnText;

        private void enter() {
            threads.add(Thread.currentThread());
            if (inside.incrementAndGet() != 1) {
                overlaps.incrementAndGet();
            }
        }

        @Override
        public void onText(String t) {
            enter();
            try {
                if (throwOnText != null) {
                    throw throwOnText;
                }
                chunks.add(t);
                text.append(t);
            } finally {
                inside.decrementAndGet();
            }
        }

        @Override
        public void onDone(FinishReason reason, GenerationMetrics metrics) {
            enter();
            inside.decrementAndGet();
            if (!done.complete(new Object[] {reason, metrics})) {
                overlaps.incrementAndGet();
            }
        }

        @Override
        public void onError(Throwable e) {
            enter();
            inside.decrementAndGet();
            error.complete(e);
        }

        @Override
        public boolean isWritable() {
            return writable;
        }

        FinishReason reason() throws Exception {
            return (FinishReason) done.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)[0];
        }

        GenerationMetrics metrics() throws Exception {
            return (GenerationMetrics) done.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)[1];
        }
    }

    /** A handle that records how it was ended. */
    static final class RecordingHandle implements GenerationHandle {
        final List<FinishReason> calls = new CopyOnWriteArrayList<>();

        @Override
        public void finish(FinishReason reason) {
            calls.add(reason);
        }
    }

    private TokenRelay relay(List<String> stops, RecordingSink sink) {
        return new TokenRelay(loop, VOCAB::piece, stops, sink);
    }

    @Test
    void manyTokensArriveInOrderOnTheExecutorThread() throws Exception {
        String text = "Once upon a time, é 中 😀. ".repeat(400);
        int[] tokens = FakeEngine.encode(text);
        RecordingSink sink = new RecordingSink();
        TokenRelay relay = relay(List.of(), sink);
        Thread runner = Thread.ofPlatform().name("fake-runner").start(() -> {
            for (int t : tokens) {
                relay.onToken(t);
            }
            relay.onFinish(FinishReason.LENGTH, METRICS);
        });
        assertEquals(FinishReason.LENGTH, sink.reason());
        assertSame(METRICS, sink.metrics());
        runner.join(WAIT.toMillis());
        assertEquals(text, sink.text.toString());
        for (String chunk : sink.chunks) {
            assertFalse(chunk.isEmpty());
            assertFalse(chunk.contains("\uFFFD"), "half a character: " + chunk);
        }
        assertEquals(1, sink.threads.size());
        assertEquals("event-loop", sink.threads.iterator().next().getName());
        assertEquals(0, sink.overlaps.get());
    }

    @Test
    void aStopStringEndsTheGenerationThroughTheHandle() throws Exception {
        RecordingSink sink = new RecordingSink();
        RecordingHandle handle = new RecordingHandle();
        TokenRelay relay = relay(List.of("fox"), sink);
        relay.bind(handle);
        for (int t : FakeEngine.encode("The quick brown fox jumps over")) {
            relay.onToken(t); // the runner keeps sampling until it sees the finish request
        }
        relay.onFinish(FinishReason.LENGTH, METRICS);
        assertEquals(FinishReason.STOP, sink.reason());
        assertEquals("The quick brown ", sink.text.toString());
        GenerationMetrics m = sink.metrics();
        assertEquals("The quick brown fox".length(), m.generatedTokens(), "tokens consumed up to the match");
        assertEquals(METRICS.promptTokens(), m.promptTokens());
        assertEquals(METRICS.totalNanos(), m.totalNanos());
        assertEquals(List.of(FinishReason.STOP), handle.calls);
    }

    @Test
    void aPartialStopAtTheEndIsFlushed() throws Exception {
        RecordingSink sink = new RecordingSink();
        TokenRelay relay = relay(List.of("STOP"), sink);
        relay.bind(new RecordingHandle());
        for (int t : FakeEngine.encode("abc ST")) {
            relay.onToken(t);
        }
        relay.onFinish(FinishReason.STOP, METRICS);
        assertEquals(FinishReason.STOP, sink.reason());
        assertSame(METRICS, sink.metrics(), "not cut by a stop string: the runner's metrics");
        assertEquals("abc ST", sink.text.toString());
    }

    @Test
    void anErrorIsDeliveredAfterTheTextBeforeIt() throws Exception {
        RecordingSink sink = new RecordingSink();
        TokenRelay relay = relay(List.of(), sink);
        for (int t : FakeEngine.encode("abc")) {
            relay.onToken(t);
        }
        IllegalStateException failure = new IllegalStateException("model unloaded");
        relay.onError(failure);
        assertSame(failure, sink.error.get(WAIT.toMillis(), TimeUnit.MILLISECONDS));
        assertEquals("abc", sink.text.toString());
        assertFalse(sink.done.isDone());
    }

    @Test
    void aTokenThatCannotBeTurnedIntoTextEndsTheGenerationWithAnError() throws Exception {
        RecordingSink sink = new RecordingSink();
        RecordingHandle handle = new RecordingHandle();
        IllegalStateException closed = new IllegalStateException("model is closed");
        TokenRelay relay = new TokenRelay(loop, t -> {
            throw closed;
        }, List.of(), sink);
        relay.bind(handle);
        relay.onToken(1);
        relay.onFinish(FinishReason.LENGTH, METRICS);
        assertSame(closed, sink.error.get(WAIT.toMillis(), TimeUnit.MILLISECONDS), "the consumer is told, not left");
        loop.submit(() -> {}).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertFalse(sink.done.isDone());
        assertEquals(List.of(FinishReason.CANCELLED), handle.calls);
    }

    @Test
    void aFailingSinkCancelsTheGeneration() throws Exception {
        RecordingSink sink = new RecordingSink();
        sink.throwOnText = new IllegalStateException("connection reset");
        RecordingHandle handle = new RecordingHandle();
        TokenRelay relay = relay(List.of(), sink);
        relay.bind(handle);
        relay.onToken(FakeEngine.encode("a")[0]);
        relay.onToken(FakeEngine.encode("b")[0]);
        relay.onFinish(FinishReason.CANCELLED, METRICS);
        // the executor runs in order: once this no-op ran, every drain before it has too
        loop.submit(() -> {}).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertEquals(List.of(FinishReason.CANCELLED), handle.calls);
        assertFalse(sink.done.isDone(), "nothing more is delivered to a failed sink");
        assertFalse(sink.error.isDone());
    }

    @Test
    void aBacklogOrAFullConnectionMakesTheRelayNotReady() {
        ArrayDeque<Runnable> queued = new ArrayDeque<>();
        RecordingSink sink = new RecordingSink();
        TokenRelay relay = new TokenRelay(queued::add, VOCAB::piece, List.of(), sink);
        assertTrue(relay.isReady());
        int token = FakeEngine.encode("x")[0];
        for (int i = 0; i < TokenRelay.MAX_BACKLOG - 1; i++) {
            relay.onToken(token);
        }
        assertTrue(relay.isReady());
        relay.onToken(token);
        assertFalse(relay.isReady(), "a backlog of " + TokenRelay.MAX_BACKLOG + " tokens");
        assertEquals(1, queued.size(), "one drain scheduled for the whole backlog");
        queued.poll().run();
        assertTrue(relay.isReady());
        assertEquals("x".repeat(TokenRelay.MAX_BACKLOG), sink.text.toString());
        sink.writable = false;
        assertFalse(relay.isReady());
        sink.writable = true;
        assertTrue(relay.isReady());
    }

    @Test
    void withARunnerAStopStringEndsTheSequence() throws Exception {
        FakeEngine engine = FakeEngine.builder().neverEnds().build();
        Runner runner = Runner.start("relay-stop", engine, new RunnerConfig(256, 1024, 2, 2, 64, 1, false));
        try {
            RecordingSink sink = new RecordingSink();
            TokenRelay relay = new TokenRelay(loop, engine::piece, List.of("fox"), sink);
            relay.bind(runner.submit(new GenerationRequest(FakeEngine.prompt("Tell me?"),
                    SamplingParams.greedyDefaults(), -1), relay));
            assertEquals(FinishReason.STOP, sink.reason());
            assertEquals("Once upon a time there was a ", sink.text.toString());
            assertEquals("Once upon a time there was a fox".length(), sink.metrics().generatedTokens());
            RunnerStats s = runner.stats();
            assertEquals(1, s.completed());
            assertEquals(0, s.active());
            assertEquals(0, s.kvCellsUsed());
            assertEquals(runner.stats().kvCellsParked(), engine.session().usedCells(), "only parked cells stay");
        } finally {
            runner.close();
        }
        assertEquals(List.of(), engine.violations());
    }

    @Test
    void withoutABoundHandleAStopStillEndsTheText() throws Exception {
        RecordingSink sink = new RecordingSink();
        TokenRelay relay = relay(List.of("x"), sink);
        for (int t : FakeEngine.encode("abxcd")) {
            relay.onToken(t);
        }
        relay.onFinish(FinishReason.LENGTH, METRICS);
        assertEquals(FinishReason.STOP, sink.reason());
        assertEquals("ab", sink.text.toString());
        assertNull(sink.error.getNow(null));
    }
}
