package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** OpenAI's API against the real server and the tiny model, read as an OpenAI client reads it. */
class OpenAiApiTest {
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** The events of a server-sent stream: the JSON of each {@code data:} line, and whether it ended with [DONE]. */
    record Sse(List<JsonNode> events, boolean done) {}

    static Sse sse(HttpResponse<String> r) throws Exception {
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"),
                r.headers().toString());
        List<JsonNode> events = new ArrayList<>();
        boolean done = false;
        for (String block : r.body().split("\n\n")) {
            if (block.isBlank()) {
                continue;
            }
            assertTrue(block.startsWith("data: "), block);
            assertFalse(done, "nothing after [DONE]");
            String data = block.substring("data: ".length());
            if (data.equals("[DONE]")) {
                done = true;
            } else {
                events.add(TestServer.json(data));
            }
        }
        return new Sse(events, done);
    }

    private static JsonNode error(HttpResponse<String> r, int status) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        JsonNode e = TestServer.json(r.body()).get("error");
        assertTrue(e.isObject(), r.body());
        assertTrue(e.get("message").isTextual());
        assertTrue(e.get("type").isTextual());
        assertTrue(e.has("param") && e.has("code"), r.body());
        return e;
    }

    private static final String HELLO = "\"messages\":[{\"role\":\"system\",\"content\":\"You tell stories.\"},"
            + "{\"role\":\"user\",\"content\":\"Once upon a time\"}]";

    @Test
    void chatCompletion() throws Exception {
        HttpResponse<String> r = server.post("/v1/chat/completions",
                "{\"model\":\"stories260k\"," + HELLO + ",\"max_tokens\":8,\"temperature\":0}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode c = TestServer.json(r.body());
        assertTrue(c.get("id").textValue().startsWith("chatcmpl-"), r.body());
        assertEquals("chat.completion", c.get("object").textValue());
        assertTrue(c.get("created").longValue() > 1_600_000_000L);
        assertEquals("stories260k", c.get("model").textValue());
        assertEquals(1, c.get("choices").size());
        JsonNode choice = c.get("choices").get(0);
        assertEquals("assistant", choice.at("/message/role").textValue());
        assertFalse(choice.at("/message/content").textValue().isEmpty());
        assertTrue(List.of("stop", "length").contains(choice.get("finish_reason").textValue()));
        JsonNode u = c.get("usage");
        assertTrue(u.get("prompt_tokens").intValue() > 0);
        assertTrue(u.get("completion_tokens").intValue() > 0 && u.get("completion_tokens").intValue() <= 8);
        assertEquals(u.get("prompt_tokens").intValue() + u.get("completion_tokens").intValue(),
                u.get("total_tokens").intValue());
    }

    /**
     * {@code n} asks for that many choices (Ollama ignores it and answers one), and, as Ollama does, a negative
     * temperature samples greedily, so each answer is temperature 0's.
     */
    @Test
    void nChoicesAndANegativeTemperatureIsGreedy() throws Exception {
        String greedy = "{\"model\":\"stories260k\"," + HELLO + ",\"max_tokens\":12,\"temperature\":0}";
        String negative = "{\"model\":\"stories260k\"," + HELLO + ",\"max_tokens\":12,\"temperature\":-1,\"n\":3}";
        HttpResponse<String> a = server.post("/v1/chat/completions", greedy);
        HttpResponse<String> b = server.post("/v1/chat/completions", negative);
        assertEquals(200, a.statusCode(), a.body());
        assertEquals(200, b.statusCode(), b.body());
        JsonNode choices = TestServer.json(b.body()).get("choices");
        assertEquals(3, choices.size(), b.body());
        for (JsonNode c : choices) {
            assertEquals(TestServer.json(a.body()).at("/choices/0/message/content").textValue(),
                    c.at("/message/content").textValue());
        }
        HttpResponse<String> legacy = server.post("/v1/completions",
                "{\"model\":\"stories260k\",\"prompt\":\"Once\",\"max_tokens\":4,\"n\":2}");
        assertEquals(200, legacy.statusCode(), legacy.body());
        assertEquals(2, TestServer.json(legacy.body()).get("choices").size());
    }

    @Test
    void streamedChatEndsWithDoneAndTheUsageWhenAsked() throws Exception {
        Sse s = sse(server.post("/v1/chat/completions", "{\"model\":\"stories260k\"," + HELLO
                + ",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_completion_tokens\":12,"
                + "\"seed\":3}"));
        assertTrue(s.done(), "ends with data: [DONE]");
        JsonNode usage = s.events().getLast();
        assertEquals(0, usage.get("choices").size(), "the usage chunk has no choices");
        assertEquals(12, usage.at("/usage/completion_tokens").intValue());
        List<JsonNode> chunks = s.events().subList(0, s.events().size() - 1);
        String id = chunks.getFirst().get("id").textValue();
        StringBuilder text = new StringBuilder();
        for (JsonNode c : chunks) {
            assertEquals("chat.completion.chunk", c.get("object").textValue());
            assertEquals(id, c.get("id").textValue(), "one id per completion");
            text.append(c.at("/choices/0/delta/content").textValue());
        }
        for (JsonNode c : chunks.subList(0, chunks.size() - 1)) {
            assertTrue(c.at("/choices/0/finish_reason").isNull(), c.toString());
        }
        assertEquals("length", chunks.getLast().at("/choices/0/finish_reason").textValue());
        assertFalse(text.isEmpty());

        Sse plain = sse(server.post("/v1/chat/completions", "{\"model\":\"stories260k\"," + HELLO
                + ",\"stream\":true,\"max_tokens\":4}"));
        assertTrue(plain.done());
        assertTrue(plain.events().stream().noneMatch(e -> e.has("usage")), "no usage unless asked");
    }

    @Test
    void completions() throws Exception {
        JsonNode c = TestServer.json(server.post("/v1/completions",
                "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"max_tokens\":6,\"temperature\":0}").body());
        assertTrue(c.get("id").textValue().startsWith("cmpl-"), c.toString());
        assertEquals("text_completion", c.get("object").textValue());
        assertFalse(c.at("/choices/0/text").textValue().isEmpty());
        assertEquals("length", c.at("/choices/0/finish_reason").textValue());
        assertEquals(6, c.at("/usage/completion_tokens").intValue());

        Sse s = sse(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\","
                + "\"max_tokens\":6,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"));
        assertTrue(s.done());
        assertEquals("text_completion", s.events().getFirst().get("object").textValue());
        assertEquals(6, s.events().getLast().at("/usage/completion_tokens").intValue());
        // as Ollama's completion writer: each chunk before the last carries a zero usage
        assertEquals("0", s.events().getFirst().at("/usage/total_tokens").toString(), s.events().getFirst().toString());
    }

    @Test
    void embeddingsAsFloatsAndAsBase64() throws Exception {
        HttpResponse<String> r = server.post("/v1/embeddings",
                "{\"model\":\"stories260k\",\"input\":[\"The cat sat\",\"A bird sang\"]}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode f = TestServer.json(r.body());
        assertEquals("list", f.get("object").textValue());
        assertEquals(2, f.get("data").size());
        assertEquals("embedding", f.at("/data/0/object").textValue());
        assertEquals(1, f.at("/data/1/index").intValue());
        JsonNode v = f.at("/data/0/embedding");
        assertEquals(64, v.size());
        assertTrue(f.at("/usage/prompt_tokens").intValue() > 0);

        JsonNode b = TestServer.json(server.post("/v1/embeddings",
                "{\"model\":\"stories260k\",\"input\":\"The cat sat\",\"encoding_format\":\"base64\"}").body());
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(b.at("/data/0/embedding").textValue()))
                .order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(64 * 4, bytes.remaining());
        for (int d = 0; d < 64; d++) {
            assertEquals(v.get(d).floatValue(), bytes.getFloat(), 1e-5f);
        }
        JsonNode small = TestServer.json(server.post("/v1/embeddings",
                "{\"model\":\"stories260k\",\"input\":\"The cat sat\",\"dimensions\":8}").body());
        assertEquals(8, small.at("/data/0/embedding").size());

        // as Ollama takes them: the format in any case, and an empty string as one input
        JsonNode upper = TestServer.json(server.post("/v1/embeddings",
                "{\"model\":\"stories260k\",\"input\":\"The cat sat\",\"encoding_format\":\"BASE64\"}").body());
        assertEquals(b.at("/data/0/embedding").textValue(), upper.at("/data/0/embedding").textValue());
        HttpResponse<String> empty = server.post("/v1/embeddings", "{\"model\":\"stories260k\",\"input\":\"\"}");
        assertEquals(200, empty.statusCode(), empty.body());
        assertEquals(1, TestServer.json(empty.body()).get("data").size(), empty.body());
        assertEquals(64, TestServer.json(empty.body()).at("/data/0/embedding").size(), empty.body());
    }

    @Test
    void modelsListAndGet() throws Exception {
        JsonNode list = TestServer.json(server.get("/v1/models").body());
        assertEquals("list", list.get("object").textValue());
        JsonNode m = null;
        for (JsonNode d : list.get("data")) {
            if (d.get("id").textValue().startsWith("stories260k")) {
                m = d;
            }
        }
        assertTrue(m != null, list.toString());
        assertEquals("model", m.get("object").textValue());
        assertEquals("library", m.get("owned_by").textValue());
        HttpResponse<String> one = server.get("/v1/models/" + m.get("id").textValue());
        assertEquals(200, one.statusCode(), one.body());
        JsonNode got = TestServer.json(one.body());
        assertEquals(m.get("id").textValue(), got.get("id").textValue());
        assertEquals("model", got.get("object").textValue());
        JsonNode missing = error(server.get("/v1/models/nope"), 404);
        assertEquals("model_not_found", missing.get("code").textValue());
        assertEquals("not_found_error", missing.get("type").textValue());
    }

    @Test
    void errorsHaveOpenAisShapeAndStatus() throws Exception {
        JsonNode noMessages = error(server.post("/v1/chat/completions", "{\"model\":\"stories260k\"}"), 400);
        assertEquals("invalid_request_error", noMessages.get("type").textValue());
        assertEquals("messages", noMessages.get("param").textValue());
        error(server.post("/v1/chat/completions", "{\"model\":"), 400);
        error(server.post("/v1/chat/completions", ""), 400);
        JsonNode unknown = error(server.post("/v1/chat/completions", "{\"model\":\"nope\"," + HELLO + "}"), 404);
        assertEquals("model_not_found", unknown.get("code").textValue());
        error(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":[1,2.5]}"), 400);
        error(server.post("/v1/embeddings", "{\"model\":\"stories260k\",\"input\":[[1,2],{}]}"), 400);
        error(server.post("/v1/embeddings", "{\"model\":\"stories260k\",\"input\":\"x\",\"encoding_format\":\"hex\"}"), 400);
        HttpResponse<String> wrongMethod = server.http.send(HttpRequest.newBuilder(server.uri("/v1/chat/completions"))
                .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals("405 method not allowed", error(wrongMethod, 405).get("message").textValue(), "OpenAI's shape");
        JsonNode nothing = error(server.post("/v1/nothing", "{}"), 404);
        assertEquals("404 page not found", nothing.get("message").textValue());
        assertTrue(nothing.get("code").isNull(), "a path, not a model: " + nothing);
    }

    /**
     * A streamed request whose answer the handler sends whole (an empty prompt only loads the model) still comes as
     * server-sent events ending with [DONE], as Ollama's writer sends it; it was plain JSON.
     */
    @Test
    void anEmptyStreamedCompletionIsStillAnEventStream() throws Exception {
        Sse s = sse(server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"\",\"stream\":true}"));
        assertTrue(s.done(), "ends with [DONE]");
        assertEquals(1, s.events().size(), s.events().toString());
        assertEquals("text_completion", s.events().getFirst().get("object").textValue());
        assertEquals("", s.events().getFirst().at("/choices/0/text").textValue());
        assertEquals("load", s.events().getFirst().at("/choices/0/finish_reason").textValue(),
                "Ollama passes its done_reason on");
        JsonNode whole = TestServer.json(server.post("/v1/completions", "{\"model\":\"stories260k\"}").body());
        assertEquals("load", whole.at("/choices/0/finish_reason").textValue(), whole.toString());
    }
}
