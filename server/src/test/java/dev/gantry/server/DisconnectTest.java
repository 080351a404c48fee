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
        LoadedModel m = server.model();
        int[] prompt = m.tokenize("Once upon a time", true, true);
        CountDownLatch tenTokens = new CountDownLatch(10);
        CompletableFuture<long[]> atFinish = new CompletableFuture<>();
        GenerationObserver observer = new GenerationObserver() {
            @Override
            public void onToken(int token) {
                tenTokens.countDown();
            }

            @Override
            public void onFinish(FinishReason reason, GenerationMetrics metrics) {
                RunnerStats s = m.stats(); // on the runner thread, right after the sequence was released
                atFinish.complete(new long[] {reason.ordinal(), s.steps(), s.kvCellsUsed(), s.active()});
            }

            @Override
            public void onError(Throwable error) {
                atFinish.completeExceptionally(error);
            }
        };
        GenerationHandle h = m.generate(new GenerationRequest(prompt,
                SamplingParams.DEFAULTS.withIgnoreEos(true), 100_000), observer);
        assertTrue(tenTokens.await(30, TimeUnit.SECONDS));
        assertTrue(m.stats().kvCellsUsed() > 0);
        long stepsAtCancel = m.stats().steps();
        h.cancel();
        long[] f = atFinish.get(30, TimeUnit.SECONDS);
        assertEquals(FinishReason.CANCELLED.ordinal(), f[0]);
        assertTrue(f[1] - stepsAtCancel <= 1, "freed within a step: " + stepsAtCancel + " -> " + f[1]);
        assertEquals(0, f[2], "no KV cells held");
        assertEquals(0, f[3], "no sequence active");
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
