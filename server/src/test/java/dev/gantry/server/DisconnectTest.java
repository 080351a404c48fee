package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationHandle;
import dev.gantry.runtime.runner.GenerationMetrics;
import dev.gantry.runtime.runner.GenerationObserver;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.RunnerStats;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Clients that leave mid-stream, with the real llama.cpp runner: the leaving client's KV cells are free within one
 * decode step of its cancellation (read from the runner inside the finish callback), while a client that stays is
 * not disturbed.
 */
class DisconnectTest {
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults().withNumParallel(4));
        server.post("/api/generate", "{\"model\":\"stories260k\"}");
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void aCancelledSequenceFreesItsCellsWithinOneStep() throws Exception {
        // cancelled from another thread, as a server thread does when its client leaves
        CancelProbe p = new CancelProbe(server.model(), false);
        assertTrue(p.tenTokens.await(30, TimeUnit.SECONDS));
        assertTrue(p.model.stats().kvCellsUsed() > 0);
        p.handle.get().cancel();
        // read after the cancel: the runner may have finished any number of steps between an earlier read and the
        // cancel (this thread can be descheduled there), but at most the step in flight can follow it
        long stepsAfterCancel = p.model.stats().steps();
        p.assertFreedWithinOneStepOf(stepsAfterCancel);
    }

    @Test
    void aSequenceCancelledOnTheRunnerThreadFreesItsCellsBeforeTheNextStep() throws Exception {
        // cancelled inside onToken, so the step count at the cancel is exact
        CancelProbe p = new CancelProbe(server.model(), true);
        assertTrue(p.tenTokens.await(30, TimeUnit.SECONDS));
        long[] f = p.atFinish.get(30, TimeUnit.SECONDS);
        assertEquals(p.stepsAtCancel.get(), f[1], "released before another step");
        p.assertFreedWithinOneStepOf(p.stepsAtCancel.get());
    }

    /** A long generation whose finish records the runner's counters right after its sequence was released. */
    private static final class CancelProbe implements GenerationObserver {
        final LoadedModel model;
        final boolean cancelAtTenthToken;
        final CountDownLatch tenTokens = new CountDownLatch(10);
        final CompletableFuture<long[]> atFinish = new CompletableFuture<>();
        final AtomicReference<GenerationHandle> handle = new AtomicReference<>();
        final AtomicLong stepsAtCancel = new AtomicLong(-1);

        CancelProbe(LoadedModel model, boolean cancelAtTenthToken) {
            this.model = model;
            this.cancelAtTenthToken = cancelAtTenthToken;
            int[] prompt = model.tokenize("Once upon a time", true, true);
            handle.set(model.generate(new GenerationRequest(prompt, SamplingParams.DEFAULTS.withIgnoreEos(true),
                    100_000), this));
        }

        @Override
        public void onToken(int token) {
            tenTokens.countDown();
            GenerationHandle h = handle.get(); // null while generate() has not returned yet
            if (cancelAtTenthToken && tenTokens.getCount() == 0 && h != null && stepsAtCancel.get() < 0) {
                stepsAtCancel.set(model.stats().steps()); // on the runner thread: no step can run meanwhile
                h.cancel();
            }
        }

        @Override
        public void onFinish(FinishReason reason, GenerationMetrics metrics) {
            RunnerStats s = model.stats(); // on the runner thread, right after the sequence was released
            atFinish.complete(new long[] {reason.ordinal(), s.steps(), s.kvCellsUsed(), s.active()});
        }

        @Override
        public void onError(Throwable error) {
            atFinish.completeExceptionally(error);
        }

        void assertFreedWithinOneStepOf(long steps) throws Exception {
            long[] f = atFinish.get(30, TimeUnit.SECONDS);
            assertEquals(FinishReason.CANCELLED.ordinal(), f[0]);
            assertTrue(f[1] - steps <= 1, "freed within a step: " + steps + " -> " + f[1]);
            assertEquals(0, f[2], "no KV cells held");
            assertEquals(0, f[3], "no sequence active");
        }
    }

    @Test
    void aClientThatLeavesMidStreamDoesNotDisturbOneThatStays() throws Exception {
        long cancelledBefore = server.model().stats().cancelled();
        String stayBody = "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"stream\":false,"
                + "\"options\":{\"num_predict\":400,\"ignore_eos\":true}}";
        CompletableFuture<java.net.http.HttpResponse<String>> stays = OverloadTest.send(server, "/api/generate",
                stayBody);
        AtomicInteger lines = new AtomicInteger();
        try (Socket s = new Socket("127.0.0.1", server.gantry.port())) {
            String body = "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\","
                    + "\"options\":{\"num_predict\":100000,\"ignore_eos\":true}}";
            OutputStream out = s.getOutputStream();
            out.write(("POST /api/generate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body)
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            for (String line; lines.get() < 20 && (line = in.readLine()) != null; ) {
                if (line.contains("\"response\"")) {
                    lines.incrementAndGet();
                }
            }
        }
        assertEquals(20, lines.get());
        java.net.http.HttpResponse<String> r = stays.get(120, TimeUnit.SECONDS);
        assertEquals(200, r.statusCode());
        assertEquals(400, TestServer.json(r.body()).get("eval_count").asInt(), "the staying client got all it asked");
        RunnerStats st = OverloadTest.idle(server);
        assertEquals(0, st.active());
        assertEquals(0, st.kvCellsUsed());
        assertEquals(cancelledBefore + 1, st.cancelled());
    }
}
