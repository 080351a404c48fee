package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Past the running sequences and a queue of 512, requests get 503 at once; none hangs. */
class QueueLimitTest {
    private static CompletableFuture<HttpResponse<String>> send(TestServer server, String body) {
        return server.http.sendAsync(HttpRequest.newBuilder(server.uri("/api/generate"))
                .timeout(Duration.ofSeconds(120)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void sixHundredRequestsAgainstAQueueOf512() throws Exception {
        int parallel = 4;
        try (TestServer server = TestServer.start(TestServer.defaults().withNumParallel(parallel).withMaxQueue(512))) {
            server.post("/api/generate", "{\"model\":\"stories260k\"}"); // load first
            // Occupy every sequence slot with long generations, then send the burst: 512 wait, the rest get 503.
            List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
            for (int i = 0; i < parallel; i++) {
                calls.add(send(server, "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"shift\":false,"
                        + "\"options\":{\"num_predict\":-1,\"ignore_eos\":true}}")); // to the context: they hold
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (server.model().stats().active() < parallel && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            for (int i = parallel; i < 600; i++) {
                calls.add(send(server, "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"stream\":"
                        + (i % 2 == 0) + ",\"options\":{\"num_predict\":8}}"));
            }
            int ok = 0;
            int busy = 0;
            for (CompletableFuture<HttpResponse<String>> c : calls) {
                HttpResponse<String> r = c.get(180, TimeUnit.SECONDS); // a hang fails here
                if (r.statusCode() == 503) {
                    busy++;
                    assertTrue(TestServer.json(r.body()).get("error").asText().contains("busy"), r.body());
                } else {
                    assertEquals(200, r.statusCode(), r.body());
                    List<JsonNode> lines = TestServer.ndjson(r.body());
                    assertTrue(lines.getLast().get("done").asBoolean(), r.body());
                    ok++;
                }
            }
            assertEquals(600, ok + busy);
            assertTrue(busy > 0 && busy <= 600 - 512 - parallel, "503s: " + busy);
            assertTrue(ok >= 512 + parallel, "completed: " + ok);
            assertEquals(0, server.model().stats().active());
            assertEquals(busy, server.model().stats().rejected());
        }
    }
}
