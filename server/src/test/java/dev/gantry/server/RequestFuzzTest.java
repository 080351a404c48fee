package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.runtime.runner.RunnerStats;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Property-based fuzzing of every endpoint's request body, against a real server with the tiny model: whatever
 * the body (malformed JSON, wrong types, extreme numbers, odd strings, unknown fields), the answer is a complete
 * response with a status below 500, within a minute, and afterwards no sequence or KV cell is left in the runner.
 */
class RequestFuzzTest {
    static final JsonNodeFactory F = JsonNodeFactory.instance;
    static final List<String> ROUTES = List.of("/", "/api/version", "/api/tags", "/api/ps", "/ready", "/api/show",
            "/api/generate", "/api/chat");
    static TestServer server;

    @BeforeContainer
    static void start() throws Exception {
        // a short context bounds every generation, whatever num_predict the fuzzer picks
        server = TestServer.start(TestServer.defaults().withContextLength(128).withNumParallel(4).withMaxQueue(64));
        server.post("/api/generate", "{\"model\":\"stories260k\"}");
    }

    @AfterContainer
    static void stop() {
        server.close();
    }

    @Property(tries = 150)
    void generateNeverFails(@ForAll("generateBodies") String body) throws Exception {
        check("/api/generate", body);
    }

    @Property(tries = 150)
    void chatNeverFails(@ForAll("chatBodies") String body) throws Exception {
        check("/api/chat", body);
    }

    @Property(tries = 80)
    void showNeverFails(@ForAll("showBodies") String body) throws Exception {
        check("/api/show", body);
    }

    @Property(tries = 80)
    void anyRouteTakesAnyBody(@ForAll("routes") String route, @ForAll("junk") String body) throws Exception {
        check(route, body);
    }

    /** The load-time options at the ends of their range, every time (num_batch 2147483647 once made a 500). */
    @net.jqwik.api.Example
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
    @net.jqwik.api.Example
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
    @net.jqwik.api.Example
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
    @net.jqwik.api.Example
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
        net.jqwik.api.statistics.Statistics.label(route).collect(r.statusCode() / 100 * 100);
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

    @Provide
    Arbitrary<String> routes() {
        return Arbitraries.of(ROUTES);
    }

    @Provide
    Arbitrary<String> junk() {
        return Arbitraries.oneOf(
                Arbitraries.strings().ofMaxLength(200),
                Arbitraries.strings().withChars("{}[]\":,0123456789.eE-+tfnul \\").ofMaxLength(80),
                json(3).map(JsonNode::toString),
                Arbitraries.of("", "{", "null", "[]", "\"x\"", "1e999999", "{\"model\":", "\u0000", "{\"a\":1}{}",
                        "{\"model\":\"stories260k\"}}", "{" + "\"a\":{".repeat(300) + "}".repeat(301)));
    }

    @Provide
    Arbitrary<String> generateBodies() {
        return bodies(Map.of("prompt", text(), "system", text(), "raw", plausibleOr(Arbitraries.of(true, false)),
                "truncate", plausibleOr(Arbitraries.of(true, false))),
                Map.of("suffix", text(), "template", text(), "context", json(2), "images", json(2), "format", json(2)));
    }

    @Provide
    Arbitrary<String> chatBodies() {
        Arbitrary<JsonNode> message = Combinators.combine(
                Arbitraries.of("user", "assistant", "system", "tool", "wizard", "").map(F::textNode)
                        .injectNull(0.05).map(n -> (JsonNode) n),
                text(), json(1)).as((role, content, extra) -> {
                    ObjectNode m = F.objectNode();
                    if (role != null) {
                        m.set("role", role);
                    }
                    m.set("content", content);
                    if (extra.isObject()) {
                        m.set("images", extra);
                    }
                    return (JsonNode) m;
                });
        Arbitrary<JsonNode> messages = Arbitraries.oneOf(
                message.list().ofMaxSize(4).map(l -> (JsonNode) F.arrayNode().addAll(l)), json(2));
        return bodies(Map.of("messages", messages, "truncate", plausibleOr(Arbitraries.of(true, false))),
                Map.of("tools", json(2), "format", json(2), "think", json(1)));
    }

    @Provide
    Arbitrary<String> showBodies() {
        return bodies(Map.of("verbose", plausibleOr(Arbitraries.of(true, false))), Map.of("name", modelName()));
    }

    /**
     * An object with the common fields (model, stream, options, keep_alive), some of the route's own, and now and
     * then some of its rarely used ones (mostly refused as unsupported, so kept rare for the rest to be reached).
     */
    private static Arbitrary<String> bodies(Map<String, Arbitrary<JsonNode>> usual, Map<String, Arbitrary<JsonNode>> rare) {
        Arbitrary<Map<String, JsonNode>> rarePicked = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Arbitraries.just(Map.<String, JsonNode>of())),
                net.jqwik.api.Tuple.of(1, pick(rare)));
        return Combinators.combine(bodies(usual), rarePicked).as((body, extra) -> {
            if (extra.isEmpty() || !body.endsWith("}")) {
                return body;
            }
            ObjectNode o;
            try {
                o = (ObjectNode) TestServer.JSON.readTree(body);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            extra.forEach(o::set);
            return o.toString();
        });
    }

    private static Arbitrary<Map<String, JsonNode>> pick(Map<String, Arbitrary<JsonNode>> own) {
        return Arbitraries.of(List.copyOf(own.keySet())).set().ofMaxSize(own.size()).flatMap(keys -> {
            Arbitrary<Map<String, JsonNode>> acc = Arbitraries.just(Map.of());
            for (String k : keys) {
                acc = acc.flatMap(m -> own.get(k).map(v -> {
                    Map<String, JsonNode> next = new java.util.HashMap<>(m);
                    next.put(k, v);
                    return next;
                }));
            }
            return acc;
        });
    }

    private static Arbitrary<String> bodies(Map<String, Arbitrary<JsonNode>> own) {
        Arbitrary<ObjectNode> common = Combinators.combine(modelName(),
                plausibleOr(Arbitraries.of(true, false)), options(), keepAlive())
                .as((model, stream, options, keep) -> {
                    ObjectNode o = F.objectNode();
                    put(o, "model", model);
                    put(o, "stream", stream);
                    put(o, "options", options);
                    put(o, "keep_alive", keep);
                    return o;
                });
        return Combinators.combine(common, pick(own), Arbitraries.integers().between(0, 19)).as((o, extra, mangle) -> {
            extra.forEach(o::set);
            String s = o.toString();
            return mangle == 0 && s.length() > 2 ? s.substring(0, s.length() / 2) : s; // sometimes cut short
        });
    }

    private static void put(ObjectNode o, String k, JsonNode v) {
        if (v != null && !v.isMissingNode()) {
            o.set(k, v);
        }
    }

    /** Mostly the tiny model, sometimes unknown, invalid or path-like names, or not a string at all. */
    private static Arbitrary<JsonNode> modelName() {
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(12, Arbitraries.of("stories260k", "stories260k:latest",
                        "library/stories260k", "STORIES260K").map(F::textNode)),
                net.jqwik.api.Tuple.of(3, Arbitraries.of("nope", "../../etc/passwd", "a/b/c/d", "x:", ":y", "..",
                        "registry.ollama.ai/library/stories260k:latest", "%2e%2e", "a\u0000b", "").map(F::textNode)),
                net.jqwik.api.Tuple.of(1, Arbitraries.strings().ofMaxLength(40).map(F::textNode)),
                net.jqwik.api.Tuple.of(1, json(1)),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(F.missingNode())));
    }

    private static Arbitrary<JsonNode> options() {
        Map<String, Arbitrary<JsonNode>> known = new java.util.LinkedHashMap<>();
        Arbitrary<JsonNode> small = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Arbitraries.integers().between(-2, 24).map(F::numberNode)),
                net.jqwik.api.Tuple.of(1, number()));
        for (String k : List.of("num_predict", "top_k", "seed", "repeat_last_n", "num_ctx", "num_batch", "num_gpu")) {
            known.put(k, plausibleOr(small));
        }
        Arbitrary<JsonNode> unit = Arbitraries.doubles().between(0, 1).map(F::numberNode);
        for (String k : List.of("temperature", "top_p", "min_p", "typical_p", "repeat_penalty", "presence_penalty",
                "frequency_penalty")) {
            known.put(k, plausibleOr(Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(6, unit),
                    net.jqwik.api.Tuple.of(1, number()))));
        }
        known.put("stop", plausibleOr(Arbitraries.strings().ofMaxLength(5).list().ofMaxSize(3)
                .map(l -> (JsonNode) F.arrayNode().addAll(l.stream().map(F::textNode).toList()))));
        known.put("ignore_eos", plausibleOr(Arbitraries.of(true, false)));
        return Arbitraries.of(List.copyOf(known.keySet())).set().ofMaxSize(5).flatMap(keys -> {
            Arbitrary<ObjectNode> acc = Arbitraries.just(F.objectNode());
            for (String k : keys) {
                acc = acc.flatMap(o -> known.get(k).map(v -> {
                    ObjectNode next = o.deepCopy();
                    next.set(k, v);
                    return next;
                }));
            }
            return acc.map(o -> (JsonNode) o);
        }).injectNull(0.1).map(n -> n == null ? F.missingNode() : n);
    }

    private static Arbitrary<JsonNode> keepAlive() {
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(1, Arbitraries.of("5m", "0", "-1", "1h", "soon", "10", "1.5s", "-5m", "")
                        .map(F::textNode)),
                net.jqwik.api.Tuple.of(1, number()),
                net.jqwik.api.Tuple.of(6, Arbitraries.just(F.missingNode()))).map(n -> (JsonNode) n)
                .filter(n -> !(n.isTextual() && n.textValue().equals("0"))) // "0" would unload between tries
                .filter(n -> !(n.isNumber() && Math.abs(n.asDouble()) < 1));
    }

    private static Arbitrary<JsonNode> text() {
        return Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, Arbitraries.of("Once upon a time", "", "hi", "<s>", "</s>", "\u0000",
                        "\uD83D\uDE00 emoji", "[INST] x [/INST]", "<|im_start|>user").map(F::textNode)),
                net.jqwik.api.Tuple.of(4, Arbitraries.strings().ofMaxLength(60).map(F::textNode)),
                net.jqwik.api.Tuple.of(4, Arbitraries.strings().all().ofMaxLength(20).map(F::textNode)),
                net.jqwik.api.Tuple.of(1, json(1)));
    }

    private static Arbitrary<JsonNode> number() {
        return Arbitraries.oneOf(
                Arbitraries.of(0, -1, 1, Integer.MAX_VALUE, Integer.MIN_VALUE).map(F::numberNode),
                Arbitraries.of(Long.MAX_VALUE, Long.MIN_VALUE).map(F::numberNode),
                Arbitraries.of(1e300, -1e300, 0.5, -0.0, 1e-300).map(F::numberNode),
                Arbitraries.of(new java.math.BigInteger("123456789012345678901234567890")).map(F::numberNode));
    }

    /** A plausible value most of the time, else any JSON. */
    private static Arbitrary<JsonNode> plausibleOr(Arbitrary<?> plausible) {
        Arbitrary<JsonNode> p = plausible.map(v -> v instanceof JsonNode n ? n
                : v instanceof Boolean b ? F.booleanNode(b) : F.textNode(String.valueOf(v)));
        return Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(15, p), net.jqwik.api.Tuple.of(1, json(2)));
    }

    /** Any JSON value up to {@code depth} levels deep. */
    static Arbitrary<JsonNode> json(int depth) {
        Arbitrary<JsonNode> leaf = Arbitraries.oneOf(
                Arbitraries.just(F.nullNode()),
                Arbitraries.of(true, false).map(F::booleanNode),
                number(),
                Arbitraries.strings().ofMaxLength(12).map(F::textNode));
        if (depth <= 0) {
            return leaf;
        }
        Arbitrary<JsonNode> child = json(depth - 1);
        Arbitrary<JsonNode> array = child.list().ofMaxSize(3).map(l -> {
            ArrayNode a = F.arrayNode();
            l.forEach(a::add);
            return a;
        });
        Arbitrary<JsonNode> object = Combinators.combine(Arbitraries.strings().alpha().ofMaxLength(6), child)
                .as(Map::entry).list().ofMaxSize(3).map(l -> {
                    ObjectNode o = F.objectNode();
                    l.forEach(e -> o.set(e.getKey(), e.getValue()));
                    return o;
                });
        return Arbitraries.oneOf(leaf, array, object);
    }
}
