package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.runtime.runner.RunnerStats;
import java.math.BigInteger;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Randomized fuzzing of every endpoint's request body, against a real server with the tiny model: whatever the
 * body (malformed JSON, wrong types, extreme numbers, odd strings, unknown fields), the answer is a complete
 * response with a status below 500, within a minute, and afterwards no sequence or KV cell is left in the runner.
 * Each run draws new bodies from a new seed, which every failure names; {@code -Dgantry.fuzz.seed=N} replays one
 * and {@code -Dgantry.fuzz.scale=K} draws K times as many bodies.
 */
class RequestFuzzTest {
    static final JsonNodeFactory F = JsonNodeFactory.instance;
    static final List<String> ROUTES = List.of("/", "/api/version", "/api/tags", "/api/ps", "/ready", "/api/show",
            "/api/generate", "/api/chat");
    static final long SEED = Long.getLong("gantry.fuzz.seed", new SplittableRandom().nextLong());
    static final int SCALE = Integer.getInteger("gantry.fuzz.scale", 1);
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        // a short context bounds every generation, whatever num_predict the fuzzer picks
        server = TestServer.start(TestServer.defaults().withContextLength(128).withNumParallel(4).withMaxQueue(64));
        server.post("/api/generate", "{\"model\":\"stories260k\"}");
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void generateNeverFails() throws Exception {
        fuzz("generate", 150, g -> check("/api/generate", g.generateBody()));
    }

    @Test
    void chatNeverFails() throws Exception {
        fuzz("chat", 150, g -> check("/api/chat", g.chatBody()));
    }

    @Test
    void showNeverFails() throws Exception {
        fuzz("show", 80, g -> check("/api/show", g.showBody()));
    }

    @Test
    void anyRouteTakesAnyBody() throws Exception {
        fuzz("routes", 80, g -> check(g.pick(ROUTES), g.junk()));
    }

    interface Try {
        void run(Bodies bodies) throws Exception;
    }

    /** {@code tries} bodies from this run's seed (mixed with the test's name, so each test draws its own). */
    static void fuzz(String name, int tries, Try t) throws Exception {
        Bodies bodies = new Bodies(new SplittableRandom(SEED ^ name.hashCode()));
        for (int i = 0; i < tries * SCALE; i++) {
            try {
                t.run(bodies);
            } catch (AssertionError | Exception e) {
                throw new AssertionError("try " + i + " of " + name + " with -Dgantry.fuzz.seed=" + SEED + ": "
                        + e.getMessage(), e);
            }
        }
    }

    /** The load-time options at the ends of their range, every time (num_batch 2147483647 once made a 500). */
    @Test
    void loadOptionsAtTheEndsOfTheirRangeAreServedOrRefused() throws Exception {
        for (String k : List.of("num_ctx", "num_batch", "num_gpu", "main_gpu")) {
            for (long v : new long[] {Integer.MAX_VALUE, Integer.MIN_VALUE, 0, -1}) {
                check("/api/generate", "{\"model\":\"" + TestServer.MODEL + "\",\"prompt\":\"Once\","
                        + "\"options\":{\"num_predict\":4,\"" + k + "\":" + v + "}}");
            }
        }
    }

    /**
     * Sampling options at the ends of their range, with the penalties on (repeat_last_n 2147483647 with a repeat
     * penalty once allocated 8 GB and stopped the runner: every later request got a 500).
     */
    @Test
    void samplingOptionsAtTheEndsOfTheirRangeLeaveTheRunnerServing() throws Exception {
        for (String k : List.of("repeat_last_n", "top_k", "num_keep", "num_predict", "seed")) {
            for (long v : new long[] {Integer.MAX_VALUE, Integer.MIN_VALUE, -1, 0}) {
                String n = k.equals("num_predict") ? "" : "\"num_predict\":4,";
                check("/api/generate", "{\"model\":\"" + TestServer.MODEL + "\",\"prompt\":\"Once\",\"options\":{"
                        + n + "\"repeat_penalty\":1.1,\"frequency_penalty\":0.5,\"" + k + "\":" + v + "}}");
            }
        }
        a64BitSeedIsASeed(); // and it still generates
    }

    /**
     * Schemas whose grammar llama.cpp refuses, or too large to compile in reasonable time, are the client's to fix:
     * a 400 that says so, not a 500 (nor seconds of a stalled runner).
     */
    @Test
    void formatsLlamaCppCannotCompileAreRefusedWith400() throws Exception {
        for (String format : List.of("{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":2147483647}",
                "{\"type\":\"string\",\"minLength\":100000000}", "{\"$ref\":\"#\"}",
                "{\"type\":\"integer\",\"enum\":" + java.util.stream.IntStream.range(0, 6000).boxed().toList() + "}")) {
            for (boolean stream : new boolean[] {false, true}) {
                String body = "{\"model\":\"" + TestServer.MODEL + "\",\"prompt\":\"Once\",\"stream\":" + stream
                        + ",\"format\":" + format + ",\"options\":{\"num_predict\":4}}";
                HttpResponse<String> r = server.http.send(HttpRequest.newBuilder(server.uri("/api/generate"))
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(400, r.statusCode(), format + ": " + r.body());
                assertTrue(TestServer.json(r.body()).get("error").textValue().startsWith("invalid format"), r.body());
                check("/api/generate", body); // and nothing is left behind
            }
        }
    }

    /** A seed is any 64-bit integer, as in Ollama (Go's int): the same seed writes the same text. */
    @Test
    void a64BitSeedIsASeed() throws Exception {
        String body = "{\"model\":\"" + TestServer.MODEL + "\",\"prompt\":\"Once\",\"stream\":false,"
                + "\"options\":{\"num_predict\":12,\"temperature\":1.5,\"seed\":9223372036854775807}}";
        String[] texts = new String[2];
        for (int i = 0; i < 2; i++) {
            HttpResponse<String> r = server.http.send(HttpRequest.newBuilder(server.uri("/api/generate"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            texts[i] = TestServer.json(r.body()).get("response").textValue();
        }
        assertEquals(texts[0], texts[1]);
        check("/api/generate", body.replace("9223372036854775807", "9223372036854775808")); // a 400, not a 500
    }

    static void check(String route, String body) throws Exception {
        String method = route.startsWith("/api/") && (route.endsWith("show") || route.endsWith("generate")
                || route.endsWith("chat")) ? "POST" : "GET";
        HttpRequest req = HttpRequest.newBuilder(server.uri(route)).timeout(Duration.ofSeconds(60))
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<String> r = server.http.send(req, HttpResponse.BodyHandlers.ofString()); // a hang times out
        assertTrue(r.statusCode() < 500, route + " " + body + " -> " + r.statusCode() + " " + r.body());
        if (r.statusCode() >= 400) {
            assertTrue(TestServer.json(r.body()).get("error").isTextual(), r.body());
        } else if (r.headers().firstValue("Content-Type").orElse("").contains("ndjson")) {
            List<JsonNode> lines = TestServer.ndjson(r.body());
            JsonNode last = lines.getLast();
            assertTrue(last.path("done").asBoolean() || last.has("error"), "stream ended: " + r.body());
            assertNotEquals(true, last.has("error"), "no error after streaming started: " + r.body());
        }
        if (server.gantry.models().loadedModel(TestServer.MODEL).isEmpty()) {
            return; // unloaded by this body's keep_alive: nothing can be left
        }
        RunnerStats st = OverloadTest.idle(server);
        assertEquals(0, st.active(), "no sequence left after " + body);
        assertEquals(0, st.waiting());
        assertEquals(0, st.kvCellsUsed(), "no KV cell left after " + body);
    }

    // ------------------------------------------------------------------ generators

    /** Request bodies and JSON values drawn from one random source. */
    static final class Bodies {
        private final SplittableRandom r;

        Bodies(SplittableRandom r) {
            this.r = r;
        }

        <T> T pick(List<T> values) {
            return values.get(r.nextInt(values.size()));
        }

        /** One of the suppliers, each as often as its weight. */
        @SafeVarargs
        final <T> T weighted(Map.Entry<Integer, Supplier<T>>... choices) {
            int total = 0;
            for (Map.Entry<Integer, Supplier<T>> c : choices) {
                total += c.getKey();
            }
            int x = r.nextInt(total);
            for (Map.Entry<Integer, Supplier<T>> c : choices) {
                x -= c.getKey();
                if (x < 0) {
                    return c.getValue().get();
                }
            }
            throw new AssertionError();
        }

        /** Up to {@code max} chars: printable ASCII, JSON's own characters, controls, any UTF-16 unit. */
        String string(int max) {
            int n = r.nextInt(max + 1);
            StringBuilder b = new StringBuilder(n);
            int kind = r.nextInt(4);
            for (int i = 0; i < n; i++) {
                b.append(switch (kind) {
                    case 0 -> (char) (' ' + r.nextInt(95));
                    case 1 -> "{}[]\":,0123456789.eE-+tfnul \\".charAt(r.nextInt(29));
                    case 2 -> (char) r.nextInt(32);
                    default -> (char) r.nextInt(Character.MAX_VALUE + 1);
                });
            }
            return b.toString();
        }

        String alpha(int max) {
            int n = r.nextInt(max + 1);
            StringBuilder b = new StringBuilder(n);
            for (int i = 0; i < n; i++) {
                b.append((char) ((r.nextBoolean() ? 'a' : 'A') + r.nextInt(26)));
            }
            return b.toString();
        }

        String junk() {
            return switch (r.nextInt(4)) {
                case 0 -> string(200);
                case 1 -> string(80);
                case 2 -> json(3).toString();
                default -> pick(List.of("", "{", "null", "[]", "\"x\"", "1e999999", "{\"model\":", "\u0000",
                        "{\"a\":1}{}", "{\"model\":\"stories260k\"}}", "{" + "\"a\":{".repeat(300) + "}".repeat(301)));
            };
        }

        String generateBody() {
            return body(Map.of("prompt", this::text, "system", this::text, "raw", () -> plausibleOr(this::bool),
                            "truncate", () -> plausibleOr(this::bool)),
                    Map.of("suffix", this::text, "template", this::text, "context", () -> json(2),
                            "images", () -> json(2), "format", () -> json(2)));
        }

        String chatBody() {
            Supplier<JsonNode> messages = () -> {
                if (r.nextInt(4) == 0) {
                    return json(2);
                }
                ArrayNode a = F.arrayNode();
                for (int i = r.nextInt(5); i > 0; i--) {
                    ObjectNode m = F.objectNode();
                    if (r.nextInt(20) > 0) {
                        m.put("role", pick(List.of("user", "assistant", "system", "tool", "wizard", "")));
                    }
                    m.set("content", text());
                    JsonNode extra = json(1);
                    if (extra.isObject()) {
                        m.set("images", extra);
                    }
                    a.add(m);
                }
                return a;
            };
            return body(Map.of("messages", messages, "truncate", () -> plausibleOr(this::bool)),
                    Map.of("tools", () -> json(2), "format", () -> json(2), "think", () -> json(1)));
        }

        String showBody() {
            return body(Map.of("verbose", () -> plausibleOr(this::bool)), Map.of("name", this::modelName));
        }

        /**
         * An object with the common fields (model, stream, options, keep_alive), some of the route's own, and now
         * and then some of its rarely used ones (mostly refused as unsupported, so kept rare for the rest to be
         * reached); one in twenty cut short.
         */
        private String body(Map<String, Supplier<JsonNode>> usual, Map<String, Supplier<JsonNode>> rare) {
            ObjectNode o = F.objectNode();
            put(o, "model", modelName());
            put(o, "stream", plausibleOr(this::bool));
            put(o, "options", options());
            put(o, "keep_alive", keepAlive());
            some(usual).forEach(o::set);
            if (r.nextInt(7) == 0) {
                some(rare).forEach(o::set);
            }
            String s = o.toString();
            return r.nextInt(20) == 0 && s.length() > 2 ? s.substring(0, s.length() / 2) : s;
        }

        /** Some of the fields (each with a drawn value), in a drawn order. */
        private Map<String, JsonNode> some(Map<String, Supplier<JsonNode>> fields) {
            List<String> keys = new ArrayList<>(fields.keySet());
            java.util.Collections.sort(keys); // the map's order is not fixed: keep a seed's draws the same
            Map<String, JsonNode> out = new LinkedHashMap<>();
            for (String k : keys) {
                if (r.nextBoolean()) {
                    out.put(k, fields.get(k).get());
                }
            }
            return out;
        }

        private static void put(ObjectNode o, String k, JsonNode v) {
            if (v != null && !v.isMissingNode()) {
                o.set(k, v);
            }
        }

        JsonNode bool() {
            return F.booleanNode(r.nextBoolean());
        }

        /** Mostly the tiny model, sometimes unknown, invalid or path-like names, or not a string at all. */
        JsonNode modelName() {
            return weighted(
                    Map.entry(12, () -> F.textNode(pick(List.of("stories260k", "stories260k:latest",
                            "library/stories260k", "STORIES260K")))),
                    Map.entry(3, () -> F.textNode(pick(List.of("nope", "../../etc/passwd", "a/b/c/d", "x:", ":y", "..",
                            "registry.ollama.ai/library/stories260k:latest", "%2e%2e", "a\u0000b", "")))),
                    Map.entry(1, () -> F.textNode(string(40))),
                    Map.entry(1, () -> json(1)),
                    Map.entry(1, F::missingNode));
        }

        JsonNode options() {
            if (r.nextInt(10) == 0) {
                return F.missingNode();
            }
            Map<String, Supplier<JsonNode>> known = new LinkedHashMap<>();
            Supplier<JsonNode> small = () -> weighted(Map.entry(6, () -> F.numberNode(r.nextInt(-2, 25))),
                    Map.entry(1, this::number));
            for (String k : List.of("num_predict", "top_k", "seed", "repeat_last_n", "num_ctx", "num_batch",
                    "num_gpu")) {
                known.put(k, () -> plausibleOr(small));
            }
            Supplier<JsonNode> unit = () -> weighted(Map.entry(6, () -> F.numberNode(r.nextDouble())),
                    Map.entry(1, this::number));
            for (String k : List.of("temperature", "top_p", "min_p", "typical_p", "repeat_penalty",
                    "presence_penalty", "frequency_penalty")) {
                known.put(k, () -> plausibleOr(unit));
            }
            known.put("stop", () -> plausibleOr(() -> {
                ArrayNode a = F.arrayNode();
                for (int i = r.nextInt(4); i > 0; i--) {
                    a.add(string(5));
                }
                return a;
            }));
            known.put("ignore_eos", () -> plausibleOr(this::bool));
            List<String> keys = new ArrayList<>(known.keySet());
            ObjectNode o = F.objectNode();
            for (int i = r.nextInt(6); i > 0; i--) {
                String k = pick(keys);
                o.set(k, known.get(k).get());
            }
            return o;
        }

        /** Mostly none; else a duration, a number or junk, never one that unloads the model between tries. */
        JsonNode keepAlive() {
            while (true) {
                JsonNode n = weighted(
                        Map.entry(1, () -> F.textNode(pick(List.of("5m", "0", "-1", "1h", "soon", "10", "1.5s",
                                "-5m", "")))),
                        Map.entry(1, this::number),
                        Map.entry(6, F::missingNode));
                if (!(n.isTextual() && n.textValue().equals("0")) && !(n.isNumber() && Math.abs(n.asDouble()) < 1)) {
                    return n;
                }
            }
        }

        JsonNode text() {
            return weighted(
                    Map.entry(6, () -> F.textNode(pick(List.of("Once upon a time", "", "hi", "<s>", "</s>", "\u0000",
                            "\uD83D\uDE00 emoji", "[INST] x [/INST]", "<|im_start|>user")))),
                    Map.entry(4, () -> F.textNode(string(60))),
                    Map.entry(4, () -> F.textNode(string(20))),
                    Map.entry(1, () -> json(1)));
        }

        JsonNode number() {
            return switch (r.nextInt(4)) {
                case 0 -> F.numberNode(pick(List.of(0, -1, 1, Integer.MAX_VALUE, Integer.MIN_VALUE)));
                case 1 -> F.numberNode(pick(List.of(Long.MAX_VALUE, Long.MIN_VALUE)));
                case 2 -> F.numberNode(pick(List.of(1e300, -1e300, 0.5, -0.0, 1e-300)));
                default -> F.numberNode(new BigInteger("123456789012345678901234567890"));
            };
        }

        /** A plausible value most of the time, else any JSON. */
        JsonNode plausibleOr(Supplier<JsonNode> plausible) {
            return r.nextInt(16) == 0 ? json(2) : plausible.get();
        }

        /** Any JSON value up to {@code depth} levels deep. */
        JsonNode json(int depth) {
            int kind = r.nextInt(depth <= 0 ? 4 : 6);
            return switch (kind) {
                case 0 -> F.nullNode();
                case 1 -> bool();
                case 2 -> number();
                case 3 -> F.textNode(string(12));
                case 4 -> {
                    ArrayNode a = F.arrayNode();
                    for (int i = r.nextInt(4); i > 0; i--) {
                        a.add(json(depth - 1));
                    }
                    yield a;
                }
                default -> {
                    ObjectNode o = F.objectNode();
                    for (int i = r.nextInt(4); i > 0; i--) {
                        o.set(alpha(6), json(depth - 1));
                    }
                    yield o;
                }
            };
        }
    }
}
