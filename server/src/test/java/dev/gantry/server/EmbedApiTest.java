package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.runtime.runner.RunnerStats;
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

/** {@code /api/embed} and {@code /api/embeddings} against the real server and the tiny model. */
class EmbedApiTest {
    static TestServer server;
    static int dims;

    @BeforeAll
    static void start() throws Exception {
        // fixed batching: a loaded machine's slow steps would let the adaptive controller cut the sequences a step
        // carries, and embeddings would not share steps with the generations
        server = TestServer.start(TestServer.defaults().withContextLength(256).withItlTarget(java.time.Duration.ZERO));
        server.post("/api/generate", "{\"model\":\"stories260k\"}"); // load
        dims = server.model().embeddingSize();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static double norm(JsonNode v) {
        double s = 0;
        for (JsonNode x : v) {
            s += x.doubleValue() * x.doubleValue();
        }
        return Math.sqrt(s);
    }

    /** More inputs than the runner's queue holds: they go in waves, each in order (they were once a 503). */
    @Test
    void aRequestOfMoreInputsThanTheQueueHoldsIsServedWhole() throws Exception {
        StringBuilder inputs = new StringBuilder();
        int n = 3 * dev.gantry.server.api.ollama.EmbedHandlersAccess.wave() + 7;
        for (int i = 0; i < n; i++) {
            inputs.append(i == 0 ? "" : ",").append("\"story number ").append(i % 5).append('"');
        }
        JsonNode r = TestServer.ok(server.post("/api/embed", "{\"model\":\"stories260k\",\"input\":[" + inputs + "]}"));
        assertEquals(n, r.get("embeddings").size());
        for (int i = 5; i < n; i += 97) { // the same text, the same vector, wherever it was in the request
            // to float rounding: steps of other sizes sum in another order (2e-7 apart in one run)
            JsonNode a = r.get("embeddings").get(i % 5);
            JsonNode b = r.get("embeddings").get(i);
            assertEquals(a.size(), b.size());
            for (int d = 0; d < a.size(); d++) {
                assertEquals(a.get(d).doubleValue(), b.get(d).doubleValue(), 1e-5, "input " + i + ", dimension " + d);
            }
        }
    }

    @Test
    void oneInputGivesOneNormalisedVectorOfTheModelsWidth() throws Exception {
        JsonNode r = TestServer.ok(server.post("/api/embed", "{\"model\":\"stories260k\",\"input\":\"Once upon a time\"}"));
        assertEquals(64, dims);
        assertEquals("stories260k", r.get("model").textValue());
        assertEquals(1, r.get("embeddings").size());
        JsonNode v = r.get("embeddings").get(0);
        assertEquals(dims, v.size());
        assertEquals(1.0, norm(v), 1e-4);
        assertTrue(r.get("prompt_eval_count").intValue() >= 4, r.toString());
        assertTrue(r.get("total_duration").longValue() > 0);
        assertTrue(r.has("load_duration"));
    }

    @Test
    void aListGivesAVectorPerInputAndTheSameInputTheSameVector() throws Exception {
        JsonNode r = TestServer.ok(server.post("/api/embed", "{\"model\":\"stories260k\",\"input\":[\"The cat sat\","
                + "\"Lily wanted to play with her ball\",\"The cat sat\"]}"));
        JsonNode e = r.get("embeddings");
        assertEquals(3, e.size());
        for (int d = 0; d < dims; d++) {
            assertEquals(e.get(0).get(d).doubleValue(), e.get(2).get(d).doubleValue(), 1e-5);
        }
        assertNotEquals(e.get(0).toString(), e.get(1).toString());
        JsonNode again = TestServer.ok(server.post("/api/embed", "{\"model\":\"stories260k\",\"input\":[\"The cat sat\"]}"));
        for (int d = 0; d < dims; d++) {
            assertEquals(e.get(0).get(d).doubleValue(), again.at("/embeddings/0").get(d).doubleValue(), 1e-5);
        }
    }

    @Test
    void dimensionsTruncateAndRenormalise() throws Exception {
        JsonNode r = TestServer.ok(server.post("/api/embed", "{\"model\":\"stories260k\",\"input\":\"The cat sat\",\"dimensions\":16}"));
        JsonNode v = r.at("/embeddings/0");
        assertEquals(16, v.size());
        assertEquals(1.0, norm(v), 1e-4);
    }

    @Test
    void anInputLongerThanTheContextIsTruncatedOrRefused() throws Exception {
        String text = "Once upon a time there was a little cat. ".repeat(40);
        assertTrue(server.model().tokenize(text, true, true).length > server.model().contextLength());
        HttpResponse<String> refused = server.post("/api/embed",
                "{\"model\":\"stories260k\",\"input\":\"" + text + "\",\"truncate\":false}");
        assertEquals(400, refused.statusCode(), refused.body());
        assertTrue(TestServer.json(refused.body()).get("error").textValue().contains("exceeds the context length"),
                refused.body());
        JsonNode cut = TestServer.ok(server.post("/api/embed", "{\"model\":\"stories260k\",\"input\":\"" + text + "\"}"));
        assertEquals(server.model().contextLength(), cut.get("prompt_eval_count").intValue());
        assertEquals(0, server.model().stats().kvCellsUsed(), "no cells left behind");
    }

    @Test
    void theOlderEndpointReturnsTheVectorUnnormalised() throws Exception {
        JsonNode old = TestServer.ok(server.post("/api/embeddings", "{\"model\":\"stories260k\",\"prompt\":\"The cat sat\"}"));
        JsonNode raw = old.get("embedding");
        assertEquals(dims, raw.size());
        assertTrue(Math.abs(norm(raw) - 1.0) > 1e-3, "not normalised, as in Ollama: " + norm(raw));
        JsonNode unit = TestServer.ok(server.post("/api/embed", "{\"model\":\"stories260k\",\"input\":\"The cat sat\"}"))
                .at("/embeddings/0");
        double n = norm(raw);
        for (int d = 0; d < dims; d++) {
            assertEquals(unit.get(d).doubleValue(), raw.get(d).doubleValue() / n, 1e-5);
        }
        assertEquals(0, TestServer.ok(server.post("/api/embeddings", "{\"model\":\"stories260k\",\"prompt\":\"\"}"))
                .get("embedding").size());
    }

    @Test
    void emptyInputOnlyLoads() throws Exception {
        JsonNode r = TestServer.ok(server.post("/api/embed", "{\"model\":\"stories260k\",\"input\":[]}"));
        assertEquals(0, r.get("embeddings").size());
    }

    @Test
    void badRequestsGetOllamasErrors() throws Exception {
        record Case(String body, int status) {}
        for (Case c : List.of(
                new Case("{\"input\":\"x\"}", 400),
                new Case("{\"model\":\"stories260k\",\"input\":5}", 400),
                new Case("{\"model\":\"stories260k\",\"input\":[\"a\",1]}", 400),
                new Case("{\"model\":\"stories260k\",\"input\":\"x\",\"dimensions\":\"8\"}", 400),
                new Case("{\"model\":\"stories260k\",\"input\":\"x\",\"truncate\":\"no\"}", 400),
                new Case("{\"model\":\"stories260k\",\"input\":\"x\",\"keep_alive\":\"soon\"}", 400),
                new Case("{\"model\":\"nope\",\"input\":\"x\"}", 404),
                new Case("{\"model\":", 400))) {
            HttpResponse<String> r = server.post("/api/embed", c.body());
            assertEquals(c.status(), r.statusCode(), c.body() + " -> " + r.body());
            assertTrue(TestServer.json(r.body()).get("error").isTextual(), r.body());
        }
    }

    @Test
    void embeddingsShareDecodeStepsWithStreamingGenerations() throws Exception {
        RunnerStats before = server.model().stats();
        List<CompletableFuture<HttpResponse<String>>> gens = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            String body = "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time " + i + "\",\"options\":"
                    + "{\"num_predict\":200,\"ignore_eos\":true,\"seed\":" + i + "}}";
            gens.add(server.http.sendAsync(HttpRequest.newBuilder(server.uri("/api/generate"))
                    .timeout(Duration.ofSeconds(120)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        }
        int embeds = 0;
        while (gens.stream().anyMatch(g -> !g.isDone()) && server.model().stats().mixedSteps() == before.mixedSteps()) {
            TestServer.ok(server.post("/api/embed", "{\"model\":\"stories260k\",\"input\":[\"The cat sat on the mat\","
                    + "\"A bird sang\"]}"));
            embeds++;
        }
        for (CompletableFuture<HttpResponse<String>> g : gens) {
            HttpResponse<String> r = g.get(120, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), r.body());
            assertEquals(200, TestServer.ndjson(r.body()).getLast().get("eval_count").intValue());
        }
        RunnerStats after = server.model().stats();
        assertTrue(embeds > 0, "an embedding request ran while the generations streamed");
        assertTrue(after.mixedSteps() > before.mixedSteps(),
                "embedding tokens and generating tokens went through the same decode: " + after);
        assertTrue(after.embeddings() >= before.embeddings() + 2L * embeds);
        assertEquals(0, after.kvCellsUsed());
    }

    /**
     * One request of more inputs than the sequences and the wait queue together, on an idle server: served whole, as
     * Ollama schedules it as one request (it was a 503 "server busy" for ever); a request that finds the queue full
     * gets Ollama's words.
     */
    @Test
    void aBatchLargerThanSlotsAndQueueIsOneRequest() throws Exception {
        try (TestServer small = TestServer.start(TestServer.defaults().withNumParallel(2).withMaxQueue(3))) {
            StringBuilder inputs = new StringBuilder();
            for (int i = 0; i < 20; i++) {
                inputs.append(i == 0 ? "" : ",").append("\"story ").append(i).append('"');
            }
            JsonNode r = TestServer.ok(small.post("/api/embed", "{\"model\":\"stories260k\",\"input\":[" + inputs + "]}"));
            assertEquals(20, r.get("embeddings").size());
        }
    }
}
