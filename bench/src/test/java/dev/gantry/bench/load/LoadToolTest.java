package dev.gantry.bench.load;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The load tool's figures (the steady window's rate, a whole run against the canned server) and the prompts of its
 * conversation modes.
 */
class LoadToolTest {

    private static final long S = 1_000_000_000L;

    @Test
    void theSteadyRateCountsOnlyWhileEveryClientIsBusy() {
        // client 0: tokens at 1..10 s; client 1: first token at 3 s, tokens to 12 s. Window: 3 s to 10 s.
        long[] a = {1 * S, 2 * S, 4 * S, 6 * S, 8 * S, 10 * S};
        long[] b = {3 * S, 5 * S, 7 * S, 9 * S, 11 * S, 12 * S};
        double rate = LoadTool.steadyRate(List.of(a, b), new long[] {1 * S, 3 * S}, new long[] {10 * S, 12 * S});
        // in (3, 10]: 4, 6, 8, 10 and 5, 7, 9: 7 tokens in 7 s
        assertEquals(1.0, rate, 1e-9);
    }

    @Test
    void noWindowGivesZero() {
        long[] a = {1 * S, 2 * S};
        long[] b = {3 * S, 4 * S};
        assertEquals(0, LoadTool.steadyRate(List.of(a, b), new long[] {1 * S, 3 * S}, new long[] {2 * S, 4 * S}),
                "client 0 ended before client 1 began");
        assertEquals(0, LoadTool.steadyRate(List.of(a), new long[] {1 * S, 0}, new long[] {2 * S, 0}),
                "a client got no token");
    }

    @Test
    void aRunAgainstTheCannedServerReportsBothRates() throws Exception {
        HttpServer server = CannedServer.start(0);
        try {
            URI url = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
            LoadTool.Result r = LoadTool.run(new LoadTool.Options(List.of(url), "ollama", "canned", 4, 5, 32, 20,
                    "test", null, true));
            assertEquals(20, r.ok());
            assertEquals(0, r.failed());
            assertEquals(20 * 32, r.tokens());
            assertTrue(r.tokensPerSecond() > 0);
            assertTrue(r.steadyTokensPerSecond() > 0, r.json());
            assertTrue(r.json().contains("\"steady_tokens_per_second\":"), r.json());
        } finally {
            server.stop(0);
        }
    }

    /** Each conversation's turn repeats the previous turn's prompt and the streamed answer, then new words. */
    @Test
    void aConversationsTurnsRepeatWhatCameBefore() throws Exception {
        List<JsonNode> bodies = record(LoadTool.Conversation.REUSE);
        Map<String, List<String>> byConversation = new TreeMap<>();
        for (JsonNode b : bodies) {
            assertTrue(b.path("raw").asBoolean(), "turns are sent raw: " + b);
            String prompt = b.path("prompt").asText();
            assertTrue(prompt.startsWith("Conversation "), prompt);
            byConversation.computeIfAbsent(prompt.substring(0, prompt.indexOf('.')), k -> new ArrayList<>())
                    .add(prompt);
        }
        assertEquals(2, byConversation.size());
        for (List<String> turns : byConversation.values()) {
            turns.sort(java.util.Comparator.comparingInt(String::length));
            assertEquals(3, turns.size());
            for (int t = 1; t < turns.size(); t++) {
                assertTrue(turns.get(t).startsWith(turns.get(t - 1) + " one two Turn " + t + ". Once upon"),
                        turns.get(t));
            }
        }
    }

    /** The baseline sends the same conversations, each prompt led by its own request number. */
    @Test
    void freshTurnsStartWithTheirOwnNumber() throws Exception {
        List<JsonNode> bodies = record(LoadTool.Conversation.FRESH);
        List<String> heads = new ArrayList<>();
        for (JsonNode b : bodies) {
            String prompt = b.path("prompt").asText();
            assertTrue(prompt.matches("Request \\d+\\. Conversation [01]\\. .*"), prompt);
            heads.add(prompt.substring(0, prompt.indexOf('.')));
            if (prompt.contains(" Turn 2. ")) {
                String rest = prompt.substring(prompt.indexOf(". ") + 2);
                assertTrue(rest.contains(" one two Turn 1. ") && rest.indexOf("Request") < 0, prompt);
            }
        }
        assertEquals(6, heads.stream().distinct().count(), "every prompt its own number: " + heads);
    }

    /** A server that records each request and streams " one" and " two"; the bodies of 2 clients x 3 turns. */
    private static List<JsonNode> record(LoadTool.Conversation mode) throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> bodies = Collections.synchronizedList(new ArrayList<>());
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/api/generate", ex -> {
            bodies.add(json.readTree(ex.getRequestBody()));
            ex.sendResponseHeaders(200, 0);
            try (OutputStream out = ex.getResponseBody()) {
                for (String piece : new String[] {" one", " two"}) {
                    out.write(("{\"response\":\"" + piece + "\",\"done\":false}\n").getBytes(StandardCharsets.UTF_8));
                }
                out.write("{\"response\":\"\",\"done\":true,\"eval_count\":2}\n".getBytes(StandardCharsets.UTF_8));
            }
        });
        server.start();
        try {
            URI url = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
            LoadTool.Result r = LoadTool.run(new LoadTool.Options(List.of(url), "ollama", "m", 2, 3, 2, 6, "test",
                    null, false, mode));
            assertEquals(6, r.ok(), r.json());
        } finally {
            server.stop(0);
        }
        return bodies;
    }
}
