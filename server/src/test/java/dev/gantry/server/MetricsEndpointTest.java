package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * {@code /metrics} through a real client after real generations of the tiny model: the counters move by what the
 * answers report, the latency histograms hold one sample per request, and the names and labels are the documented
 * ones.
 */
class MetricsEndpointTest {
    static final Map<String, String> REPLICA = Map.of("model", "stories260k:latest", "replica", "0");

    /** Every per-replica series Gantry exports once a model has served a request (README, deploy/grafana). */
    static final Set<String> REPLICA_SERIES = Set.of(
            "gantry_requests_running", "gantry_requests_waiting", "gantry_kv_cache_usage_ratio",
            "gantry_kv_cache_cells", "gantry_sequences_max", "gantry_queue_capacity",
            "gantry_decode_step_sequences_max", "gantry_prompt_tokens_total", "gantry_generated_tokens_total",
            "gantry_decode_steps_total", "gantry_decode_step_sequences_total", "gantry_requests_cancelled_total",
            "gantry_queue_rejections_total", "gantry_preemptions_total", "gantry_replica_placement",
            "gantry_requests_finished_total", "gantry_prefix_cache_hits_total",
            "gantry_time_to_first_token_seconds_bucket", "gantry_time_to_first_token_seconds_count",
            "gantry_time_to_first_token_seconds_sum", "gantry_time_to_first_token_seconds_max",
            "gantry_inter_token_latency_seconds_bucket", "gantry_inter_token_latency_seconds_count",
            "gantry_inter_token_latency_seconds_sum", "gantry_e2e_request_latency_seconds_bucket",
            "gantry_e2e_request_latency_seconds_count", "gantry_request_queue_time_seconds_bucket",
            "gantry_request_queue_time_seconds_count");

    @Test
    void countersAndHistogramsAfterRealGenerations() throws Exception {
        try (TestServer server = TestServer.start(TestServer.defaults())) {
            HttpResponse<String> empty = server.get("/metrics");
            assertEquals(200, empty.statusCode());
            assertTrue(empty.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"),
                    empty.headers().toString());
            assertTrue(PrometheusText.parse(empty.body()).names().contains("jvm_memory_used_bytes"));

            long evalCount = 0;
            long promptCount = 0;
            JsonNode a = TestServer.json(server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":"
                    + "\"Once upon a time\",\"stream\":false,\"options\":{\"num_predict\":8,\"ignore_eos\":true}}").body());
            List<JsonNode> b = TestServer.ndjson(server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":"
                    + "\"The cat\",\"options\":{\"num_predict\":12,\"ignore_eos\":true}}").body());
            JsonNode c = TestServer.json(server.post("/api/chat", "{\"model\":\"stories260k\",\"stream\":false,"
                    + "\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}],"
                    + "\"options\":{\"num_predict\":5,\"ignore_eos\":true}}").body());
            for (JsonNode done : List.of(a, b.getLast(), c)) {
                assertTrue(done.get("done").asBoolean(), done.toString());
                evalCount += done.get("eval_count").asLong();
                promptCount += done.get("prompt_eval_count").asLong();
            }
            assertEquals(25, evalCount);

            // a request is recorded once its answer is out and its handler has seen the submission go through,
            // whichever comes last: the handler's thread may still be on its way when the client has the answer
            PrometheusText m = PrometheusText.parse(server.get("/metrics").body());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (m.valueOrZero("gantry_requests_finished_total", with(REPLICA, "reason", "length")) < 3
                    && System.nanoTime() < deadline) {
                Thread.sleep(10);
                m = PrometheusText.parse(server.get("/metrics").body());
            }
            assertEquals(evalCount, m.valueOrZero("gantry_generated_tokens_total", REPLICA));
            assertEquals(promptCount, m.valueOrZero("gantry_prompt_tokens_total", REPLICA));
            assertEquals(3.0, m.valueOrZero("gantry_requests_finished_total", with(REPLICA, "reason", "length")));
            for (String histogram : List.of("gantry_time_to_first_token_seconds", "gantry_inter_token_latency_seconds",
                    "gantry_e2e_request_latency_seconds", "gantry_request_queue_time_seconds")) {
                // one sample a request; the inter-token histogram one a gap between two tokens' text (each of
                // these tokens writes some)
                double samples = histogram.equals("gantry_inter_token_latency_seconds") ? evalCount - 3 : 3;
                assertEquals(samples, m.valueOrZero(histogram + "_count", REPLICA), histogram);
                assertEquals(samples, m.valueOrZero(histogram + "_bucket", with(REPLICA, "le", "+Inf")), histogram);
                assertTrue(m.named(histogram + "_bucket").size() > 10, histogram + " has its buckets");
                assertTrue(m.valueOrZero(histogram + "_sum", REPLICA) > 0, histogram);
            }
            double steps = m.valueOrZero("gantry_decode_steps_total", REPLICA);
            assertTrue(steps >= 25, "a step per generated token at least: " + steps);
            assertTrue(m.valueOrZero("gantry_decode_step_sequences_total", REPLICA) >= steps);
            assertEquals(0.0, m.valueOrZero("gantry_requests_running", REPLICA));
            assertEquals(0.0, m.valueOrZero("gantry_requests_waiting", REPLICA));
            assertEquals(0.0, m.valueOrZero("gantry_prefix_cache_hits_total", REPLICA), "one replica: no routing");
            assertEquals(1.0, m.valueOrZero("gantry_replica_placement", with(REPLICA, "gpus", "")));

            Set<String> missing = new TreeSet<>(REPLICA_SERIES);
            missing.removeAll(m.names());
            assertEquals(Set.of(), missing, "series not exported");
            for (PrometheusText.Sample s : m.samples()) {
                if (!s.name().startsWith("gantry_")) {
                    continue;
                }
                Set<String> keys = new TreeSet<>(s.labels().keySet());
                keys.remove("le");
                keys.remove("reason");
                keys.remove("gpus");
                keys.remove("split");
                assertEquals(Set.of("model", "replica"), keys, "labels of " + s);
            }
        }
    }

    /**
     * A replica's counters go on across a reload (a new context length makes a new runner, which counts from zero)
     * and keep their value after an unload: they went back to the new runner's count, and vanished at the unload.
     */
    @Test
    void countersKeepCountingAcrossReloadsAndUnloads() throws Exception {
        try (TestServer server = TestServer.start(TestServer.defaults())) {
            String gen = "{\"model\":\"stories260k\",\"prompt\":\"Once\",\"stream\":false,\"options\":{"
                    + "\"num_predict\":6,\"ignore_eos\":true%s}}";
            assertEquals(6, TestServer.json(server.post("/api/generate", gen.formatted("")).body())
                    .get("eval_count").asInt());
            assertEquals(6.0, generated(server, 6.0));
            // a reload: another context length
            assertEquals(6, TestServer.json(server.post("/api/generate", gen.formatted(",\"num_ctx\":96")).body())
                    .get("eval_count").asInt());
            assertEquals(12.0, generated(server, 12.0), "the first runner's 6 and the new one's 6");
            // an unload
            assertEquals(200, server.post("/api/generate", "{\"model\":\"stories260k\",\"keep_alive\":0}")
                    .statusCode());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!TestServer.json(server.get("/api/ps").body()).get("models").isEmpty()
                    && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            PrometheusText m = PrometheusText.parse(server.get("/metrics").body());
            assertEquals(12.0, m.valueOrZero("gantry_generated_tokens_total", REPLICA), "kept after the unload");
            assertTrue(m.valueOrZero("gantry_decode_steps_total", REPLICA) >= 12);
            assertTrue(!m.names().contains("gantry_requests_running"), "the gauges go with the replica");
        }
    }

    /** A copy that loads and unloads between two scrapes (a keep_alive 0 request's) is counted too: no scrape saw it. */
    @Test
    void aCopyNoScrapeSawIsCounted() throws Exception {
        try (TestServer server = TestServer.start(TestServer.defaults())) {
            JsonNode g = TestServer.json(server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":"
                    + "\"Once\",\"stream\":false,\"keep_alive\":0,\"options\":{\"num_predict\":7,\"ignore_eos\":true}}")
                    .body());
            assertEquals(7, g.get("eval_count").asInt(), g.toString());
            // its counts arrive when its unload ends (a little after /api/ps stops listing it), and stay
            assertEquals(7.0, generated(server, 7.0), "it was not counted");
            Thread.sleep(200);
            assertEquals(7.0, PrometheusText.parse(server.get("/metrics").body())
                    .valueOrZero("gantry_generated_tokens_total", REPLICA), "counted once");
        }
    }

    /**
     * Two copies of one name in memory at once (a model created again with another context length while its first
     * copy still serves): the replica's gauges add both up, and stay for the copy that is left when the other
     * unloads (they collided: one copy's figures hid the other's, and the first to unload took both's gauges).
     */
    @Test
    void twoCopiesOfOneNameAddUpAndOutliveEachOther() throws Exception {
        Map<String, String> replica = Map.of("model", "twice:latest", "replica", "0");
        try (TestServer server = TestServer.start(TestServer.defaults())) {
            assertEquals(200, server.post("/api/create", "{\"model\":\"twice\",\"from\":\"stories260k\","
                    + "\"stream\":false}").statusCode());
            try (java.net.Socket a = stream(server, "twice")) {
                assertEquals(200, server.post("/api/create", "{\"model\":\"twice\",\"from\":\"stories260k\","
                        + "\"parameters\":{\"num_ctx\":96},\"stream\":false}").statusCode());
                try (java.net.Socket b = stream(server, "twice")) {
                    JsonNode ps = TestServer.json(server.get("/api/ps").body());
                    assertEquals(2, ps.get("models").size(), "two copies: " + ps);
                    // the figures that stay while a copy is in memory, whether or not its stream still runs (a
                    // stream not read may yet end when the sockets' buffers take all it has to write)
                    double cells = 0;
                    double slots = 0;
                    for (JsonNode copy : ps.get("models")) {
                        cells += copy.at("/replicas/0/kv_cells").asDouble();
                        slots += copy.at("/replicas/0/max_sequences").asDouble();
                    }
                    double bothSlots = slots;
                    HealthAndReadinessTest.waitFor(() -> PrometheusText.parse(server.get("/metrics").body())
                            .valueOrZero("gantry_sequences_max", replica) == bothSlots);
                    PrometheusText m = PrometheusText.parse(server.get("/metrics").body());
                    assertEquals(cells, m.valueOrZero("gantry_kv_cache_cells", replica), "both copies' cells");
                    double running = m.valueOrZero("gantry_requests_running", replica);
                    assertTrue(running >= 1 && running <= 2, "the copies' streams: " + running);
                    // the second copy's client leaves, then that copy unloads: the first, which no name loads any
                    // more, stays, and so do its gauges
                    b.close();
                    server.post("/api/generate", "{\"model\":\"twice\",\"keep_alive\":0}");
                    HealthAndReadinessTest.waitFor(() -> TestServer.json(server.get("/api/ps").body()).get("models")
                            .size() == 1);
                    JsonNode left = TestServer.json(server.get("/api/ps").body()).at("/models/0");
                    assertEquals(2048, left.get("context_length").asInt());
                    m = PrometheusText.parse(server.get("/metrics").body());
                    assertTrue(m.names().contains("gantry_requests_running"), "the copy left keeps its gauges");
                    assertEquals(left.at("/replicas/0/kv_cells").asDouble(),
                            m.valueOrZero("gantry_kv_cache_cells", replica), "its cells alone");
                    assertEquals(left.at("/replicas/0/max_sequences").asDouble(),
                            m.valueOrZero("gantry_sequences_max", replica), "its slots alone");
                }
            }
        }
    }

    /** A streamed generation of {@code model} that does not end by itself, read until it is under way. */
    private static java.net.Socket stream(TestServer server, String model) throws Exception {
        return server.generateStream("{\"model\":\"" + model + "\",\"prompt\":\"Once upon a time\",\"options\":{"
                + "\"num_predict\":1000000,\"ignore_eos\":true}}", 3);
    }

    /** The replica's generated-token count once it reaches {@code want} (the last runner's counts are read live). */
    private static double generated(TestServer server, double want) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        double v;
        do {
            v = PrometheusText.parse(server.get("/metrics").body()).valueOrZero("gantry_generated_tokens_total",
                    REPLICA);
            if (v >= want) {
                return v;
            }
            Thread.sleep(10);
        } while (System.nanoTime() < deadline);
        return v;
    }

    /**
     * A prompt that starts like the last one continues from its parked cells: the answer is the one a fresh slot
     * gives (greedy), and the reused tokens show in /metrics and /api/ps.
     */
    @Test
    void aPromptThatStartsLikeTheLastOneReusesItsCells() throws Exception {
        String story = "Once upon a time there was a little girl named Lily. She loved to play outside in the park"
                + " with her friends. One day";
        String options = ",\"stream\":false,\"options\":{\"num_predict\":12,\"temperature\":0,\"ignore_eos\":true}}";
        try (TestServer server = TestServer.start(TestServer.defaults())) {
            JsonNode first = TestServer.json(server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\""
                    + story + " she saw\"" + options).body());
            String fresh = first.get("response").asText();
            assertTrue(first.path("prompt_eval_cached_count").isMissingNode(), "nothing cached yet: " + first);
            TestServer.json(server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\""
                    + story + " a bird sang\"" + options).body());
            JsonNode second = TestServer.json(server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\""
                    + story + " she saw\"" + options).body());
            assertEquals(fresh, second.get("response").asText(), "the same answer from reused cells as from a fresh slot");
            // Ollama's fields: prompt_eval_count counts the whole prompt, prompt_eval_cached_count what the cache held
            assertEquals(first.get("prompt_eval_count").asInt(), second.get("prompt_eval_count").asInt());
            int cached = second.get("prompt_eval_cached_count").asInt();
            assertTrue(cached >= 16 && cached < second.get("prompt_eval_count").asInt(), second.toString());
            // and OpenAI's usage.prompt_tokens_details.cached_tokens
            JsonNode completion = TestServer.json(server.post("/v1/completions", "{\"model\":\"stories260k\","
                    + "\"prompt\":\"" + story + " she saw\",\"max_tokens\":4,\"temperature\":0}").body());
            assertTrue(completion.at("/usage/prompt_tokens_details/cached_tokens").asInt() >= 16, completion.toString());
            PrometheusText m = PrometheusText.parse(server.get("/metrics").body());
            assertTrue(m.valueOrZero("gantry_prompt_reused_tokens_total", REPLICA) >= 2 * 16,
                    "two takeovers of at least 16 tokens each");
            JsonNode runner = TestServer.json(server.get("/api/ps").body()).get("models").get(0).get("replicas").get(0)
                    .get("runner");
            assertEquals((long) m.valueOrZero("gantry_prompt_reused_tokens_total", REPLICA),
                    runner.get("reused_prompt_tokens").asLong());
            assertTrue(m.valueOrZero("gantry_kv_cache_parked_cells", REPLICA) > 0);
        }
    }

    @Test
    void aClientThatLeavesMidStreamIsCountedAsCancelled() throws Exception {
        try (TestServer server = TestServer.start(TestServer.defaults())) {
            HttpResponse<InputStream> r = server.http.send(HttpRequest.newBuilder(server.uri("/api/generate"))
                    .timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(
                            SlowStream.LONG_GENERATION)).build(), HttpResponse.BodyHandlers.ofInputStream());
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                assertTrue(in.readLine().contains("\"done\":false"));
            } // closing the body mid-stream closes the connection
            HealthAndReadinessTest.waitFor(() -> PrometheusText.parse(server.get("/metrics").body())
                    .valueOrZero("gantry_requests_cancelled_total", REPLICA) == 1.0);
            PrometheusText m = PrometheusText.parse(server.get("/metrics").body());
            assertEquals(1.0, m.valueOrZero("gantry_requests_finished_total", with(REPLICA, "reason", "cancelled")));
            assertEquals(0.0, m.valueOrZero("gantry_requests_running", REPLICA));
            assertEquals(0.0, m.valueOrZero("gantry_e2e_request_latency_seconds_count", REPLICA),
                    "a cancelled request is not an end-to-end latency");
        }
    }

    static Map<String, String> with(Map<String, String> labels, String key, String value) {
        Map<String, String> out = new java.util.HashMap<>(labels);
        out.put(key, value);
        return Map.copyOf(out);
    }
}
