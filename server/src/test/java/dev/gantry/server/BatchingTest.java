package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.runtime.runner.RunnerStats;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Many clients share one decode loop; a client that leaves frees its sequence. */
class BatchingTest {
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        // fixed batching: these tests are about steps being shared; with the adaptive controller a loaded CI machine
        // (slow steps) may rightly cut the sequences per step, which its own tests cover
        server = TestServer.start(TestServer.defaults().withItlTarget(java.time.Duration.ZERO));
        server.post("/api/generate", "{\"model\":\"stories260k\"}"); // load
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void thirtyTwoConcurrentStreamsShareDecodeSteps() throws Exception {
        RunnerStats before = server.model().stats();
        int clients = 32;
        int tokens = 64;
        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        // the clients' requests queue behind a held runner, so they overlap however slowly they are sent: on a
        // loaded machine, requests sent one by one could each finish before the next came
        try (TestServer.Hold hold = server.holdRunner()) {
            for (int i = 0; i < clients; i++) {
                String body = "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time " + i + "\","
                        + "\"options\":{\"num_predict\":" + tokens + ",\"seed\":" + i + ",\"ignore_eos\":true}}";
                calls.add(server.http.sendAsync(HttpRequest.newBuilder(server.uri("/api/generate"))
                        .timeout(Duration.ofSeconds(120)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                        HttpResponse.BodyHandlers.ofString()));
            }
            hold.awaitWaiting(clients);
        }
        int generated = 0;
        for (CompletableFuture<HttpResponse<String>> c : calls) {
            HttpResponse<String> r = c.get(120, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), r.body());
            List<JsonNode> lines = TestServer.ndjson(r.body());
            JsonNode last = lines.getLast();
            assertTrue(last.get("done").asBoolean(), r.body());
            generated += last.get("eval_count").asInt();
        }
        RunnerStats after = server.model().stats();
        long steps = after.steps() - before.steps();
        long generatedByRunner = after.generatedTokens() - before.generatedTokens();
        assertTrue(generated >= clients, "every stream produced tokens");
        assertEquals(generated, generatedByRunner - 1 - countStoppedExtras(), "tokens counted once (and the hold's)");
        // Shared steps: far fewer decode calls than tokens, and steps that carried many sequences at once.
        assertTrue(steps < generated / 4, "steps " + steps + " for " + generated + " tokens");
        assertTrue(after.maxSequencesInStep() >= clients / 2, "max sequences in one step: " + after.maxSequencesInStep());
        assertTrue(after.batchedSteps() > before.batchedSteps());
    }

    private static int countStoppedExtras() {
        return 0; // no stop strings here: the runner's count equals the clients'
    }

    @Test
    void aClientThatDisconnectsFreesItsSequence() throws Exception {
        long cancelledBefore = server.model().stats().cancelled();
        try (Socket s = server.generateStream("{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\","
                + "\"options\":{\"num_predict\":100000,\"ignore_eos\":true}}", 20)) {
            assertTrue(server.model().stats().active() >= 1);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        RunnerStats st = server.model().stats();
        while ((st.active() > 0 || st.kvCellsUsed() > 0) && System.nanoTime() < deadline) {
            Thread.sleep(10);
            st = server.model().stats();
        }
        assertEquals(0, st.active(), "sequence freed");
        assertEquals(0, st.kvCellsUsed(), "KV cells freed");
        assertEquals(cancelledBefore + 1, st.cancelled());
    }
}
