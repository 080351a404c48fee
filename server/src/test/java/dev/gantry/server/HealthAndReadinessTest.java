package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code /health} and {@code /ready} through a real client: 200 while serving; {@code /ready} 503 while every
 * replica's queue is full; both 503 while draining, when other requests get 503 with {@code Retry-After} and the
 * request in flight still completes.
 */
class HealthAndReadinessTest {
    private static final Map<String, String> MODEL = Map.of("model", "stories260k:latest", "replica", "0");

    @Test
    void healthyAndReadyWhileServing() throws Exception {
        try (TestServer server = TestServer.start(TestServer.defaults())) {
            HttpResponse<String> health = server.get("/health");
            assertEquals(200, health.statusCode(), health.body());
            assertEquals("serving", TestServer.json(health.body()).get("status").asText());
            HttpResponse<String> ready = server.get("/ready");
            assertEquals(200, ready.statusCode(), ready.body());
            assertTrue(TestServer.json(ready.body()).get("ready").asBoolean());
            assertEquals(0, TestServer.json(ready.body()).get("replicas").asInt(), "nothing loaded yet");
        }
    }

    @Test
    void notReadyWhileEveryQueueIsFull() throws Exception {
        try (TestServer server = TestServer.start(TestServer.defaults().withNumParallel(1).withMaxQueue(0))) {
            server.post("/api/generate", "{\"model\":\"stories260k\"}"); // load
            assertEquals(200, server.get("/ready").statusCode());
            try (SlowStream held = SlowStream.open(server.gantry.port(), "/api/generate", SlowStream.LONG_GENERATION)) {
                waitFor(() -> server.model().stats().active() == 1);
                HttpResponse<String> ready = server.get("/ready");
                assertEquals(503, ready.statusCode(), ready.body());
                JsonNode r = TestServer.json(ready.body());
                assertFalse(r.get("ready").asBoolean());
                assertEquals(1, r.get("replicas_full").asInt());
                assertEquals(200, server.get("/health").statusCode(), "full is not unhealthy");

                HttpResponse<String> busy = server.post("/api/generate",
                        "{\"model\":\"stories260k\",\"prompt\":\"Hi\",\"options\":{\"num_predict\":2}}");
                assertEquals(503, busy.statusCode(), busy.body());
                PrometheusText m = PrometheusText.parse(server.get("/metrics").body());
                assertEquals(1.0, m.valueOrZero("gantry_requests_refused_total", Map.of("model", "stories260k:latest")));
                assertEquals(1.0, m.valueOrZero("gantry_queue_rejections_total", MODEL));
                assertEquals(1.0, m.valueOrZero("gantry_requests_running", MODEL));

                List<String> lines = held.finish();
                assertTrue(TestServer.json(lines.getLast()).get("done").asBoolean(), lines.getLast());
            }
            waitFor(() -> server.model().stats().active() == 0);
            assertEquals(200, server.get("/ready").statusCode());
        }
    }

    @Test
    void drainingRefusesNewRequestsAndFinishesTheOneInFlight() throws Exception {
        try (TestServer server = TestServer.start(TestServer.defaults())) {
            server.post("/api/generate", "{\"model\":\"stories260k\"}");
            try (SlowStream held = SlowStream.open(server.gantry.port(), "/api/generate", SlowStream.LONG_GENERATION)) {
                CompletableFuture<Boolean> drained = CompletableFuture.supplyAsync(server.gantry::drainAndClose);
                waitFor(() -> server.get("/health").statusCode() == 503);
                assertEquals("draining", TestServer.json(server.get("/health").body()).get("status").asText());
                HttpResponse<String> ready = server.get("/ready");
                assertEquals(503, ready.statusCode());
                assertEquals("draining", TestServer.json(ready.body()).get("reason").asText());

                HttpResponse<String> refused = server.post("/api/generate",
                        "{\"model\":\"stories260k\",\"prompt\":\"Hi\"}");
                assertEquals(503, refused.statusCode(), refused.body());
                assertEquals("5", refused.headers().firstValue("Retry-After").orElse(""));
                assertTrue(TestServer.json(refused.body()).get("error").asText().contains("shutting down"));
                assertFalse(drained.isDone(), "the drain waits for the stream in flight");

                List<String> lines = held.finish();
                JsonNode last = TestServer.json(lines.getLast());
                assertTrue(last.get("done").asBoolean(), lines.getLast());
                assertEquals("length", last.get("done_reason").asText());
                assertTrue(drained.get(60, TimeUnit.SECONDS), "every request finished by itself");
            }
        }
    }

    interface Condition {
        boolean holds() throws Exception;
    }

    static void waitFor(Condition c) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!c.holds()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within 60 s");
            }
            Thread.sleep(10);
        }
    }
}
