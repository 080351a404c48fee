package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.runtime.RuntimeConfig;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The context through the HTTP API, with the tiny model loaded at {@code OLLAMA_CONTEXT_LENGTH=160}: long prompts are
 * cut from the front (generate keeps the BOS, chat keeps the system message and the newest messages), or refused
 * with {@code "truncate": false}; {@code num_ctx} narrows one request's context; a generation that fills its
 * context shifts it, as Ollama does, or with {@code "shift": false} ends with done_reason {@code length}.
 */
class ContextLengthTest {
    static final int CONTEXT = 160;
    static final String LONG = "Once upon a time there was a little girl named Lily. ".repeat(30);

    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        RuntimeConfig runtime = ServerConfig.fromEnv(Map.of("OLLAMA_CONTEXT_LENGTH", String.valueOf(CONTEXT),
                "HOME", System.getProperty("user.home")), List.of()).runtime().withKeepAlive(Duration.ofMinutes(10));
        server = TestServer.start(runtime);
        assertEquals(200, server.post("/api/generate", "{\"model\":\"stories260k\"}").statusCode());
        assertEquals(CONTEXT, server.model().contextLength());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static ObjectNode generate(String prompt, Object... options) {
        ObjectNode req = TestServer.JSON.createObjectNode();
        req.put("model", TestServer.MODEL).put("prompt", prompt).put("stream", false);
        ObjectNode o = req.putObject("options");
        for (int i = 0; i < options.length; i += 2) {
            o.set((String) options[i], TestServer.JSON.valueToTree(options[i + 1]));
        }
        return req;
    }

    private static JsonNode ok(String path, ObjectNode req) throws Exception {
        HttpResponse<String> r = server.post(path, req.toString());
        assertEquals(200, r.statusCode(), r.body());
        List<JsonNode> lines = TestServer.ndjson(r.body());
        return lines.getLast();
    }

    private static int tokens(String text) {
        return server.model().tokenize(text, true, true).length;
    }

    @Test
    void aLongPromptIsCutFromTheFrontLeavingRoomToGenerate() throws Exception {
        assertTrue(tokens(LONG) > 2 * CONTEXT, "the prompt is longer than the context: " + tokens(LONG));
        // without a context shift: the context less 8 to generate and one spare, the BOS and the last prompt tokens
        JsonNode done = ok("/api/generate", generate(LONG, "num_predict", 8, "temperature", 0).put("shift", false));
        assertEquals(CONTEXT - 8 - 1, done.get("prompt_eval_count").asInt(), done.toString());
        assertTrue(done.get("eval_count").asInt() <= 8);
        // shifting (the default), as Ollama: all of the context but one token, and the context shifts as it generates
        JsonNode shifted = ok("/api/generate", generate(LONG, "num_predict", 8, "temperature", 0));
        assertEquals(CONTEXT - 1, shifted.get("prompt_eval_count").asInt(), shifted.toString());
        assertEquals(8, shifted.get("eval_count").asInt(), shifted.toString());
    }

    @Test
    void truncateFalseRefusesAPromptThatDoesNotFit() throws Exception {
        ObjectNode req = generate(LONG, "num_predict", 8);
        req.put("truncate", false);
        HttpResponse<String> r = server.post("/api/generate", req.toString());
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(TestServer.json(r.body()).get("error").asText()
                .startsWith("the input length exceeds the context length"), r.body());
        // a prompt that fits is served as usual
        req.put("prompt", "Once upon a time");
        assertEquals(200, server.post("/api/generate", req.toString()).statusCode());
    }

    @Test
    void numCtxNarrowsTheContextOfOneRequest() throws Exception {
        JsonNode done = ok("/api/generate", generate(LONG, "num_predict", 8, "num_ctx", 32).put("shift", false));
        assertEquals(32 - 8 - 1, done.get("prompt_eval_count").asInt(), done.toString());
        ObjectNode refused = generate(LONG.substring(0, 200), "num_ctx", 16);
        refused.put("truncate", false);
        assertEquals(400, server.post("/api/generate", refused.toString()).statusCode());
    }

    @Test
    void aGenerationThatFillsItsContextShiftsItAndGoesOn() throws Exception {
        String prompt = "Once upon a time";
        for (boolean stream : List.of(false, true)) {
            ObjectNode req = generate(prompt, "num_predict", 100, "ignore_eos", true, "num_ctx", 24);
            req.put("stream", stream);
            JsonNode done = ok("/api/generate", req);
            assertEquals("length", done.get("done_reason").asText(), done.toString());
            assertEquals(100, done.get("eval_count").asInt(), "stream " + stream + ": " + done);
            assertEquals(tokens(prompt), done.get("prompt_eval_count").asInt(), done.toString());
        }
        // chat too; and without a num_predict, ten contexts at most, as Ollama caps a shifting generation
        ObjectNode chat = TestServer.JSON.createObjectNode();
        chat.put("model", TestServer.MODEL).put("stream", false).putArray("messages").addObject()
                .put("role", "user").put("content", prompt);
        chat.putObject("options").put("num_ctx", 24).put("ignore_eos", true);
        JsonNode done = ok("/api/chat", chat);
        assertEquals("length", done.get("done_reason").asText(), done.toString());
        assertEquals(240, done.get("eval_count").asInt(), done.toString());
    }

    /**
     * Generations that shift at once, with more of them than slots: each runs to its num_predict, and their cells
     * are all given back (none left in use once the runner is idle).
     */
    @Test
    void concurrentShiftsEachFinishAndGiveTheirCellsBack() throws Exception {
        List<java.util.concurrent.CompletableFuture<HttpResponse<String>>> calls = new java.util.ArrayList<>();
        for (int i = 0; i < 6; i++) {
            ObjectNode req = generate("Story " + i + ": once upon a time", "num_predict", 400, "ignore_eos", true,
                    "seed", i);
            req.put("stream", i % 2 == 0);
            calls.add(OverloadTest.send(server, "/api/generate", req.toString()));
        }
        for (java.util.concurrent.CompletableFuture<HttpResponse<String>> c : calls) {
            HttpResponse<String> r = c.get(120, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), r.body());
            JsonNode done = TestServer.ndjson(r.body()).getLast();
            assertEquals(400, done.get("eval_count").asInt(), done.toString());
            assertEquals("length", done.get("done_reason").asText(), done.toString());
        }
        dev.gantry.runtime.runner.RunnerStats st = OverloadTest.idle(server);
        assertEquals(0, st.kvCellsUsed(), st.toString());
        assertTrue(st.kvCellsParked() <= st.kvCells(), st.toString());
    }

    @Test
    void aGenerationThatFillsItsContextWithoutShiftEndsWithLength() throws Exception {
        String prompt = "Once upon a time";
        int promptTokens = tokens(prompt);
        for (boolean stream : List.of(false, true)) {
            // num_ctx reloads the model with that context (at most the model's own): 24 ends at 24 tokens; 10,000
            // gives the tiny model more than the 1,000 tokens asked for, so num_predict ends it
            for (int[] c : new int[][] {{0, CONTEXT}, {24, 24}, {10_000, promptTokens + 1000}}) {
                ObjectNode req = c[0] == 0 ? generate(prompt, "num_predict", 1000, "ignore_eos", true)
                        : generate(prompt, "num_predict", 1000, "ignore_eos", true, "num_ctx", c[0]);
                req.put("stream", stream).put("shift", false);
                JsonNode done = ok("/api/generate", req);
                String where = "num_ctx " + c[0] + ", stream " + stream + ": " + done;
                assertEquals("length", done.get("done_reason").asText(), where);
                assertEquals(promptTokens, done.get("prompt_eval_count").asInt(), where);
                assertEquals(c[1], done.get("prompt_eval_count").asInt() + done.get("eval_count").asInt(), where);
            }
        }
        // without a num_predict either: the context is the limit
        JsonNode done = ok("/api/generate", generate(prompt, "ignore_eos", true).put("shift", false));
        assertEquals("length", done.get("done_reason").asText());
        assertEquals(CONTEXT, done.get("prompt_eval_count").asInt() + done.get("eval_count").asInt());
    }

    @Test
    void aLongChatDropsItsOldestMessagesAndKeepsTheSystemMessage() throws Exception {
        ObjectNode req = TestServer.JSON.createObjectNode();
        // a template that shows every role (the model has none: Ollama's default renders the users' turns only)
        req.put("model", TestServer.MODEL).put("stream", false)
                .put("template", "{{ range .Messages }}{{ .Role }}: {{ .Content }}\n{{ end }}");
        req.putObject("options").put("num_predict", 8).put("temperature", 0);
        ArrayNode messages = req.putArray("messages");
        messages.addObject().put("role", "system").put("content", "Tell short stories.");
        for (int i = 0; i < 4; i++) {
            messages.addObject().put("role", "user").put("content", "Story " + i + ": " + LONG.substring(0, 120));
            messages.addObject().put("role", "assistant").put("content", LONG.substring(0, 700)); // alone over the context
        }
        messages.addObject().put("role", "user").put("content", "Now one about a cat.");
        int expectedTokens = tokens("system: Tell short stories.\nuser: Now one about a cat.\n");
        assertTrue(expectedTokens < CONTEXT - 8, "the kept messages fit: " + expectedTokens);
        JsonNode done = ok("/api/chat", req);
        assertEquals(expectedTokens, done.get("prompt_eval_count").asInt(), done.toString());

        req.put("truncate", false);
        HttpResponse<String> r = server.post("/api/chat", req.toString());
        assertEquals(400, r.statusCode(), r.body());
        assertTrue(r.body().contains("the input length exceeds the context length"), r.body());
    }

    @Test
    void aChatWhoseLastMessageAloneIsTooLongIsCutToo() throws Exception {
        ObjectNode req = TestServer.JSON.createObjectNode();
        req.put("model", TestServer.MODEL).put("stream", false);
        req.putObject("options").put("num_predict", 8);
        ArrayNode messages = req.putArray("messages");
        messages.addObject().put("role", "user").put("content", "hello");
        messages.addObject().put("role", "user").put("content", LONG);
        JsonNode done = ok("/api/chat", req);
        assertEquals(CONTEXT - 1, done.get("prompt_eval_count").asInt(), "all but one token: " + done);
        req.put("shift", false); // then room is left to generate
        done = ok("/api/chat", req);
        assertEquals(CONTEXT - 8 - 1, done.get("prompt_eval_count").asInt(), done.toString());
    }
}
