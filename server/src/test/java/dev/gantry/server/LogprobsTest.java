package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Log probabilities through the real server and llama.cpp: Ollama's {@code logprobs}/{@code top_logprobs} on
 * generate and chat, streamed and whole, and OpenAI's forms on {@code /v1/chat/completions} and
 * {@code /v1/completions}.
 */
class LogprobsTest {
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start(TestServer.defaults());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void generateReportsEachTokensLogprobAndItsLikeliestAlternatives() throws Exception {
        JsonNode r = ok("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"stream\":false,"
                + "\"logprobs\":true,\"top_logprobs\":3,\"options\":{\"num_predict\":10,\"temperature\":0}}");
        JsonNode lps = r.get("logprobs");
        assertEquals(r.get("eval_count").asInt(), lps.size(), r.toString());
        StringBuilder text = new StringBuilder();
        for (JsonNode e : lps) {
            text.append(e.get("token").asText());
            double lp = e.get("logprob").asDouble();
            assertTrue(lp <= 0, e.toString());
            JsonNode top = e.get("top_logprobs");
            assertEquals(3, top.size(), e.toString());
            assertTrue(top.get(0).get("logprob").asDouble() >= top.get(1).get("logprob").asDouble());
            assertTrue(top.get(1).get("logprob").asDouble() >= top.get(2).get("logprob").asDouble());
            // greedy: the token chosen is the likeliest
            assertEquals(top.get(0).get("token").asText(), e.get("token").asText(), e.toString());
            assertEquals(top.get(0).get("logprob").asDouble(), lp, 1e-6);
            assertEquals(e.get("token").asText().getBytes(java.nio.charset.StandardCharsets.UTF_8).length,
                    e.get("bytes").size());
        }
        assertEquals(r.get("response").asText(), text.toString());

        // streamed: the lines' entries add up to the tokens; no top_logprobs unless asked
        List<JsonNode> lines = TestServer.ndjson(server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":"
                + "\"Once\",\"logprobs\":true,\"options\":{\"num_predict\":12,\"ignore_eos\":true}}").body());
        int entries = 0;
        for (JsonNode l : lines) {
            for (JsonNode e : l.path("logprobs")) {
                entries++;
                assertTrue(!e.has("top_logprobs"), e.toString());
            }
        }
        assertEquals(12, entries);
        // a stop string that takes out whole tokens takes out their log probabilities too: the tokens spell the text
        for (boolean stream : List.of(false, true)) {
            String body = "{\"model\":\"stories260k\",\"prompt\":\"Once upon\",\"stream\":" + stream
                    + ",\"logprobs\":true,\"options\":{\"temperature\":0,\"num_predict\":10,\"stop\":[\",\"]}}";
            StringBuilder answer = new StringBuilder();
            StringBuilder tokens = new StringBuilder();
            for (JsonNode l : TestServer.ndjson(server.post("/api/generate", body).body())) {
                answer.append(l.path("response").asText());
                l.path("logprobs").forEach(e -> tokens.append(e.get("token").asText()));
            }
            assertTrue(answer.length() > 0, "the stop came after some text");
            assertEquals(answer.toString(), tokens.toString(), "stream " + stream);
        }
        // a chat's too (they were kept there, so OpenAI's chat reported tokens its content did not hold)
        for (boolean stream : List.of(false, true)) {
            String body = "{\"model\":\"stories260k\",\"stream\":" + stream + ",\"logprobs\":true,\"messages\":[{"
                    + "\"role\":\"user\",\"content\":\"Once upon\"}],\"options\":{\"temperature\":0,\"num_predict\":10,"
                    + "\"stop\":[\",\"]}}";
            StringBuilder answer = new StringBuilder();
            StringBuilder tokens = new StringBuilder();
            for (JsonNode l : TestServer.ndjson(server.post("/api/chat", body).body())) {
                answer.append(l.at("/message/content").asText());
                l.path("logprobs").forEach(e -> tokens.append(e.get("token").asText()));
            }
            assertTrue(answer.length() > 0, "the stop came after some text");
            assertEquals(answer.toString(), tokens.toString(), "chat, stream " + stream);
        }
        JsonNode plain = ok("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"Once\",\"stream\":false,"
                + "\"options\":{\"num_predict\":2}}");
        assertTrue(!plain.has("logprobs"), "only when asked: " + plain);
        HttpResponse<String> bad = server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\","
                + "\"logprobs\":true,\"top_logprobs\":21}");
        assertEquals(400, bad.statusCode(), bad.body());
        assertTrue(bad.body().contains("top_logprobs"), bad.body());
    }

    @Test
    void chatAndOpenAisFormsCarryThemToo() throws Exception {
        JsonNode chat = ok("/api/chat", "{\"model\":\"stories260k\",\"stream\":false,\"logprobs\":true,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"options\":{\"num_predict\":6}}");
        assertEquals(chat.get("eval_count").asInt(), chat.get("logprobs").size(), chat.toString());
        // the content is the tokens as the model wrote them, its first one's leading space included, as in Ollama
        StringBuilder spelled = new StringBuilder();
        chat.get("logprobs").forEach(e -> spelled.append(e.get("token").asText()));
        assertEquals(spelled.toString(), chat.at("/message/content").asText(), chat.toString());

        JsonNode oc = ok("/v1/chat/completions", "{\"model\":\"stories260k\",\"max_tokens\":6,\"logprobs\":true,"
                + "\"top_logprobs\":2,\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]}");
        JsonNode content = oc.at("/choices/0/logprobs/content");
        assertEquals(oc.at("/usage/completion_tokens").asInt(), content.size(), oc.toString());
        assertEquals(2, content.get(0).get("top_logprobs").size());
        assertTrue(content.get(0).has("bytes"));
        assertTrue(ok("/v1/chat/completions", "{\"model\":\"stories260k\",\"max_tokens\":2,\"messages\":[{\"role\":"
                + "\"user\",\"content\":\"Hi\"}]}").at("/choices/0/logprobs").isNull(), "null unless asked");

        JsonNode tc = ok("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\","
                + "\"max_tokens\":6,\"logprobs\":2}");
        JsonNode legacy = tc.at("/choices/0/logprobs");
        assertEquals(6, legacy.get("tokens").size(), tc.toString());
        assertEquals(6, legacy.get("token_logprobs").size());
        assertEquals(6, legacy.get("top_logprobs").size());
        assertEquals(0, legacy.get("text_offset").get(0).asInt());
        // and chat's form, which Ollama's /v1/completions returns
        assertEquals(6, legacy.get("content").size(), tc.toString());
        assertEquals(legacy.get("tokens").get(0).asText(), legacy.at("/content/0/token").asText());
        assertEquals(legacy.get("token_logprobs").get(0).asDouble(), legacy.at("/content/0/logprob").asDouble());
        assertEquals(2, legacy.at("/content/0/top_logprobs").size());
        int offset = 0;
        for (int i = 0; i < 6; i++) {
            assertEquals(offset, legacy.get("text_offset").get(i).asInt(), tc.toString());
            offset += legacy.get("tokens").get(i).asText().length();
        }
        // streamed: the offsets go on from chunk to chunk
        String sse = server.post("/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\","
                + "\"max_tokens\":5,\"logprobs\":0,\"stream\":true}").body();
        int expected = 0;
        int tokens = 0;
        for (String line : sse.split("\n")) {
            if (!line.startsWith("data: {")) {
                continue;
            }
            JsonNode lp = TestServer.json(line.substring(6)).at("/choices/0/logprobs");
            for (int i = 0; i < lp.path("tokens").size(); i++) {
                assertEquals(expected, lp.get("text_offset").get(i).asInt(), sse);
                expected += lp.get("tokens").get(i).asText().length();
                tokens++;
            }
        }
        assertEquals(5, tokens, sse);
        // top_logprobs without logprobs asks for nothing, as in Ollama
        JsonNode none = ok("/v1/chat/completions", "{\"model\":\"stories260k\",\"top_logprobs\":3,\"max_tokens\":3,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
        assertTrue(none.at("/choices/0/logprobs").isNull(), none.toString());
    }

    private static JsonNode ok(String path, String body) throws Exception {
        HttpResponse<String> r = server.post(path, body);
        assertEquals(200, r.statusCode(), r.body());
        return TestServer.json(r.body());
    }
}
