package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A model's life among requests, through the real server: a reload for another {@code num_ctx} waits for the
 * requests on the old copy (they all get their answer), {@code keep_alive: 0} lets running requests finish, a
 * request without {@code keep_alive} leaves the model's own (as Ollama's scheduler does), and a tiny {@code num_ctx} is raised, not refused.
 */
class ModelLifecycleTest {
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults().withNumParallel(8));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void requestsThatReloadTheModelForEachOtherAllGetTheirAnswer() throws Exception {
        // before, a request could submit to a copy another request's reload had just unloaded: a 500 ("runner is
        // stopped", "model is closed"), or no answer at all when the copy went while its text was being written
        for (int round = 0; round < 12; round++) {
            List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                String ctx = i % 4 == 0 ? "" : ",\"num_ctx\":" + (128 << (i % 4));
                calls.add(OverloadTest.send(server, "/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"Once "
                        + "upon a time\",\"stream\":" + (i % 2 == 0) + ",\"options\":{\"num_predict\":12,"
                        + "\"ignore_eos\":true" + ctx + "}}"));
            }
            for (CompletableFuture<HttpResponse<String>> c : calls) {
                HttpResponse<String> r = c.get(60, TimeUnit.SECONDS);
                assertEquals(200, r.statusCode(), r.body());
                JsonNode last = TestServer.ndjson(r.body()).getLast();
                assertEquals(12, last.path("eval_count").asInt(), r.body());
            }
        }
    }

    @Test
    void keepAliveZeroLetsRunningRequestsFinishThenUnloads() throws Exception {
        List<CompletableFuture<HttpResponse<String>>> running = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            running.add(OverloadTest.send(server, "/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"Once\","
                    + "\"stream\":" + (i % 2 == 0) + ",\"options\":{\"num_predict\":600,\"ignore_eos\":true}}"));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (server.gantry.models().loadedModel("stories260k").map(m -> m.stats().active()).orElse(0) < 4
                && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        HttpResponse<String> unload = server.post("/api/generate", "{\"model\":\"stories260k\",\"keep_alive\":0}");
        assertEquals(200, unload.statusCode(), unload.body());
        assertEquals("unload", TestServer.json(unload.body()).get("done_reason").asText());
        assertEquals("stories260k", TestServer.json(unload.body()).get("model").asText(), "the name as sent");
        for (CompletableFuture<HttpResponse<String>> c : running) {
            HttpResponse<String> r = c.get(60, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), r.body());
            JsonNode last = TestServer.ndjson(r.body()).getLast();
            assertEquals(600, last.path("eval_count").asInt(), "finished, not cut off: " + last);
        }
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (server.gantry.models().loadedModel("stories260k").isPresent() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(server.gantry.models().loadedModel("stories260k").isEmpty(), "unloaded once they were done");
    }

    /**
     * {@code keep_alive: 0} with nothing to generate unloads a loaded model without reading the request's options,
     * format, raw mode or images, as Ollama expires the runner before it looks at them (a wrong option, or a num_ctx
     * that would need a reload, is not the request's business then).
     */
    @Test
    void keepAliveZeroUnloadsALoadedModelWithoutReadingTheOptions() throws Exception {
        String[][] unloads = {
            {"/api/generate", "{\"model\":\"stories260k\",\"keep_alive\":0,\"options\":{\"num_ctx\":\"lots\"}}"},
            {"/api/generate", "{\"model\":\"stories260k\",\"keep_alive\":0,\"format\":\"xml\"}"},
            {"/api/generate", "{\"model\":\"stories260k\",\"keep_alive\":0,\"raw\":true,\"system\":\"x\"}"},
            {"/api/generate", "{\"model\":\"stories260k\",\"keep_alive\":0,\"images\":[\"aGVsbG8=\"]}"},
            {"/api/chat", "{\"model\":\"stories260k\",\"messages\":[],\"keep_alive\":0,\"format\":{\"type\":\"bogus\"}}"},
            {"/api/chat", "{\"model\":\"stories260k\",\"messages\":[],\"keep_alive\":0,"
                    + "\"options\":{\"num_ctx\":64,\"temperature\":\"hot\"}}"},
        };
        for (String[] u : unloads) {
            generate(null);
            assertTrue(server.gantry.models().loadedModel("stories260k").isPresent());
            HttpResponse<String> r = server.post(u[0], u[1]);
            assertEquals(200, r.statusCode(), r.body());
            assertEquals("unload", TestServer.json(r.body()).get("done_reason").asText(), r.body());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (server.gantry.models().loadedModel("stories260k").isPresent() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertTrue(server.gantry.models().loadedModel("stories260k").isEmpty(), "unloaded by " + u[1]);
        }
        HttpResponse<String> unknown = server.post("/api/generate", "{\"model\":\"no-such-model\",\"keep_alive\":0}");
        assertEquals(404, unknown.statusCode(), unknown.body());
        // a field of the wrong type is still the client's mistake, as Ollama's decoding refuses it first
        for (String path : List.of("/api/generate", "/api/chat")) {
            HttpResponse<String> badThink = server.post(path, "{\"model\":\"stories260k\",\"keep_alive\":0,"
                    + "\"messages\":[],\"think\":1}");
            assertEquals(400, badThink.statusCode(), path + " " + badThink.body());
        }
    }

    /**
     * A request without {@code keep_alive} leaves the loaded model's as it was (Ollama's useLoadedRunner sets it only
     * when a request sends one), so a model preloaded with -1 stays; one that sends it changes it.
     */
    @Test
    void aRequestWithoutKeepAliveLeavesTheModelsOwn() throws Exception {
        generate("\"keep_alive\":-1");
        assertEquals("2318", expiresAt().substring(0, 4), "forever: " + expiresAt());
        generate(null);
        assertEquals("2318", expiresAt().substring(0, 4), "still forever: " + expiresAt());
        generate("\"keep_alive\":\"1h\"");
        assertTrue(Instant.parse(expiresAt()).isAfter(Instant.now().plus(Duration.ofMinutes(59))));
        generate(null);
        Instant expires = Instant.parse(expiresAt());
        assertTrue(expires.isAfter(Instant.now().plus(Duration.ofMinutes(59))), "the hour stays: " + expires);
        generate("\"keep_alive\":\"10m\"");
        expires = Instant.parse(expiresAt());
        assertTrue(expires.isBefore(Instant.now().plus(Duration.ofMinutes(11))), "ten minutes: " + expires);
    }

    /** As Ollama's generate: an empty prompt only loads the model, even with a system prompt. */
    @Test
    void anEmptyPromptOnlyLoadsEvenWithASystemPrompt() throws Exception {
        HttpResponse<String> r = server.post("/api/generate", "{\"model\":\"stories260k\",\"system\":\"Tell tales\","
                + "\"stream\":false}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode done = TestServer.json(r.body());
        assertEquals("load", done.get("done_reason").asText(), r.body());
        assertEquals("", done.get("response").asText(), r.body());
    }

    @Test
    void aTinyNumCtxIsRaisedNotRefused() throws Exception {
        HttpResponse<String> r = server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"Hi\","
                + "\"stream\":false,\"options\":{\"num_ctx\":2,\"num_predict\":3}}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(3, TestServer.json(r.body()).get("eval_count").asInt());
    }

    private static void generate(String extra) throws Exception {
        HttpResponse<String> r = server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"Hi\","
                + "\"stream\":false,\"options\":{\"num_predict\":2}" + (extra == null ? "" : "," + extra) + "}");
        assertEquals(200, r.statusCode(), r.body());
    }

    private static String expiresAt() throws Exception {
        JsonNode ps = TestServer.json(server.get("/api/ps").body());
        return ps.at("/models/0/expires_at").asText();
    }
}
