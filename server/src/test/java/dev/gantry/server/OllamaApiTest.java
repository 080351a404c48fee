package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Ollama's core endpoints against a real server, real llama.cpp and the tiny model. */
class OllamaApiTest {
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
    void rootAndVersion() throws Exception {
        HttpResponse<String> root = server.get("/");
        assertEquals(200, root.statusCode());
        assertEquals("Ollama is running", root.body());
        JsonNode v = TestServer.json(server.get("/api/version").body());
        assertTrue(v.get("version").asText().matches("\\d+\\.\\d+\\.\\d+"), v.toString());
    }

    @Test
    void tagsListTheBuiltInModel() throws Exception {
        JsonNode tags = TestServer.json(server.get("/api/tags").body());
        JsonNode m = tags.get("models").get(0);
        assertEquals("stories260k:latest", m.get("name").asText());
        assertEquals(1185376, m.get("size").asLong());
        assertEquals("270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d", m.get("digest").asText());
        assertEquals("gguf", m.at("/details/format").asText());
        assertEquals("llama", m.at("/details/family").asText());
        assertEquals("F32", m.at("/details/quantization_level").asText());
    }

    @Test
    void showReadsTheGgufMetadata() throws Exception {
        HttpResponse<String> r = server.post("/api/show", "{\"model\":\"stories260k\"}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode s = TestServer.json(r.body());
        assertEquals("llama", s.at("/model_info/general.architecture").asText());
        assertEquals(5, s.at("/model_info/llama.block_count").asInt());
        assertEquals(292800, s.at("/model_info/general.parameter_count").asLong());
        assertTrue(s.get("model_info").has("general.architecture"));
        assertTrue(!s.get("model_info").has("general.name"), "Ollama leaves general.name out of model_info");
        assertTrue(s.get("tensors").isArray() && !s.get("tensors").isEmpty(), "tensors without verbose too, as Ollama's "
                + "GetModelInfo sets them for a GGUF model");
        JsonNode v = TestServer.json(server.post("/api/show", "{\"model\":\"stories260k\",\"verbose\":true}").body());
        JsonNode embd = v.get("tensors").get(0);
        assertEquals("token_embd.weight", embd.get("name").asText(), v.get("tensors").toString());
        assertEquals(2, embd.get("shape").size());
        assertTrue(embd.get("type").isTextual());
        assertEquals(3 + 5 * 9, v.get("tensors").size());
        assertTrue(s.get("capabilities").toString().contains("completion"));
        assertEquals(404, server.post("/api/show", "{\"model\":\"missing\"}").statusCode());
    }

    @Test
    void generateStreamsAStoryAsNdjson() throws Exception {
        HttpResponse<String> r = server.post("/api/generate",
                "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"options\":{\"temperature\":0,\"num_predict\":24}}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("application/x-ndjson", r.headers().firstValue("content-type").orElse(""));
        List<JsonNode> lines = TestServer.ndjson(r.body());
        assertTrue(lines.size() > 5, r.body());
        StringBuilder text = new StringBuilder();
        for (JsonNode l : lines.subList(0, lines.size() - 1)) {
            assertFalse(l.get("done").asBoolean());
            assertEquals("stories260k", l.get("model").asText());
            assertTrue(l.has("created_at"));
            text.append(l.get("response").asText());
        }
        JsonNode last = lines.getLast();
        assertTrue(last.get("done").asBoolean());
        assertEquals("length", last.get("done_reason").asText());
        assertEquals(24, last.get("eval_count").asInt());
        assertEquals(5, last.get("prompt_eval_count").asInt(), "BOS and four prompt tokens");
        for (String f : List.of("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")) {
            assertTrue(last.get(f).asLong() >= 0, f);
        }
        assertTrue(last.get("total_duration").asLong() >= last.get("eval_duration").asLong());
        assertTrue(text.toString().startsWith(", there was a little girl named Lily"), text.toString());
    }

    @Test
    void generateWithoutStreamingAnswersOneObject() throws Exception {
        HttpResponse<String> r = server.post("/api/generate",
                "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"stream\":false,"
                        + "\"options\":{\"temperature\":0,\"num_predict\":24}}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode o = TestServer.json(r.body());
        assertTrue(o.get("done").asBoolean());
        assertTrue(o.get("response").asText().startsWith(", there was a little girl named Lily"), o.toString());
        assertEquals(24, o.get("eval_count").asInt());
    }

    @Test
    void stopStringsEndTheTextBeforeTheMatch() throws Exception {
        HttpResponse<String> r = server.post("/api/generate",
                "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"stream\":false,"
                        + "\"options\":{\"temperature\":0,\"num_predict\":64,\"stop\":[\"Lily\"]}}");
        JsonNode o = TestServer.json(r.body());
        assertEquals(", there was a little girl named ", o.get("response").asText());
        assertEquals("stop", o.get("done_reason").asText());
    }

    @Test
    void chatStreamsAssistantMessages() throws Exception {
        HttpResponse<String> r = server.post("/api/chat", "{\"model\":\"stories260k\",\"messages\":["
                + "{\"role\":\"system\",\"content\":\"Tell a story.\"},{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
                + "\"options\":{\"num_predict\":12,\"seed\":7}}");
        assertEquals(200, r.statusCode(), r.body());
        List<JsonNode> lines = TestServer.ndjson(r.body());
        for (JsonNode l : lines) {
            assertEquals("assistant", l.at("/message/role").asText());
        }
        JsonNode last = lines.getLast();
        assertTrue(last.get("done").asBoolean());
        assertEquals(12, last.get("eval_count").asInt());

        HttpResponse<String> whole = server.post("/api/chat", "{\"model\":\"stories260k\",\"stream\":false,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"options\":{\"num_predict\":5}}");
        JsonNode o = TestServer.json(whole.body());
        assertEquals("assistant", o.at("/message/role").asText());
        assertTrue(o.get("done").asBoolean());
    }

    @Test
    void emptyPromptOnlyLoadsTheModel() throws Exception {
        JsonNode o = TestServer.json(server.post("/api/generate", "{\"model\":\"stories260k\"}").body());
        assertEquals("load", o.get("done_reason").asText());
        assertTrue(o.get("done").asBoolean());
        JsonNode ps = TestServer.json(server.get("/api/ps").body());
        assertEquals("stories260k:latest", ps.at("/models/0/name").asText());
        assertEquals(2048, ps.at("/models/0/context_length").asInt());
        assertTrue(ps.at("/models/0/expires_at").asText().startsWith("20"));
        JsonNode replica = ps.at("/models/0/replicas/0");
        assertEquals("CPU", replica.at("/devices/0").asText(), ps.toString());
        assertEquals("none", replica.get("split").asText());
        assertTrue(replica.get("max_sequences").asInt() >= 1);
        assertEquals(0, ps.at("/models/0/size_vram").asLong(), "on the CPU");
        // Ollama's size: the memory the model takes, its KV cache too, so more than the file
        long file = 1185376; // the built-in model's file
        long kvCells = replica.get("kv_cells").asLong();
        assertTrue(ps.at("/models/0/size").asLong() > file + kvCells, ps.at("/models/0/size") + " vs " + file);
    }

    @Test
    void seededSamplingIsReproducible() throws Exception {
        String body = "{\"model\":\"stories260k\",\"prompt\":\"Lily\",\"stream\":false,"
                + "\"options\":{\"temperature\":0.9,\"seed\":42,\"num_predict\":20}}";
        String a = TestServer.json(server.post("/api/generate", body).body()).get("response").asText();
        String b = TestServer.json(server.post("/api/generate", body).body()).get("response").asText();
        assertEquals(a, b);
    }

    /**
     * Sampling values out of range are taken as Ollama's sampler takes them, not refused: a negative temperature is
     * greedy (the same text as temperature 0), top_p and min_p are clamped to [0, 1].
     */
    @Test
    void outOfRangeSamplingValuesAreClampedAsOllamaDoes() throws Exception {
        String greedy = "{\"model\":\"stories260k\",\"prompt\":\"Lily\",\"stream\":false,"
                + "\"options\":{\"num_predict\":12,\"temperature\":0}}";
        String negative = "{\"model\":\"stories260k\",\"prompt\":\"Lily\",\"stream\":false,"
                + "\"options\":{\"num_predict\":12,\"temperature\":-0.5,\"top_p\":3,\"min_p\":-1}}";
        HttpResponse<String> a = server.post("/api/generate", greedy);
        HttpResponse<String> b = server.post("/api/generate", negative);
        assertEquals(200, a.statusCode(), a.body());
        assertEquals(200, b.statusCode(), b.body());
        assertEquals(TestServer.json(a.body()).get("response").textValue(),
                TestServer.json(b.body()).get("response").textValue());
        HttpResponse<String> chat = server.post("/api/chat", "{\"model\":\"stories260k\",\"stream\":false,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"options\":{\"num_predict\":4,\"top_p\":1.5,\"typical_p\":2}}");
        assertEquals(200, chat.statusCode(), chat.body());
    }

    @Test
    void generateAnswersWithAContextThatANextRequestContinues() throws Exception {
        JsonNode first = TestServer.json(server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":"
                + "\"Once upon a time\",\"stream\":false,\"options\":{\"num_predict\":6,\"seed\":3}}").body());
        JsonNode context = first.get("context");
        assertTrue(context != null && context.isArray() && context.size() > 0, first.toString());
        // the prompt and the answer, as tokens: their count is the prompt's and the answer's, less the BOS
        assertTrue(Math.abs(context.size() - (first.get("prompt_eval_count").asInt() - 1
                + first.get("eval_count").asInt())) <= 2, first.toString());
        JsonNode second = TestServer.json(server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":"
                + "\" Then\",\"stream\":false,\"context\":" + context + ",\"options\":{\"num_predict\":3}}").body());
        assertTrue(second.get("prompt_eval_count").asInt() > context.size(),
                "the earlier conversation is in the prompt: " + second);
        // sent back, the earlier conversation comes out as the same tokens: the next context starts with this one
        // (the pieces joined gained a space token at each round trip: a model with a space prefix read "  Once")
        JsonNode again = TestServer.json(server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":"
                + "\" Then\",\"stream\":false,\"context\":" + second.get("context") + ",\"options\":{\"num_predict\":3,"
                + "\"temperature\":0}}").body());
        for (int i = 0; i < second.get("context").size(); i++) {
            assertEquals(second.get("context").get(i).asInt(), again.get("context").get(i).asInt(),
                    "token " + i + ": " + second.get("context") + " then " + again.get("context"));
        }
        for (int i = 0; i < context.size(); i++) {
            assertEquals(context.get(i).asInt(), second.get("context").get(i).asInt(), "token " + i);
        }
        // streamed: only the last line carries it; a raw prompt has none
        List<JsonNode> lines = TestServer.ndjson(server.post("/api/generate", "{\"model\":\"stories260k\","
                + "\"prompt\":\"Once\",\"options\":{\"num_predict\":4}}").body());
        assertTrue(lines.getLast().get("context").size() > 0, lines.getLast().toString());
        lines.subList(0, lines.size() - 1).forEach(l -> assertFalse(l.has("context"), l.toString()));
        JsonNode raw = TestServer.json(server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":"
                + "\"Once\",\"raw\":true,\"stream\":false,\"options\":{\"num_predict\":2}}").body());
        assertFalse(raw.has("context"), raw.toString());
        for (String bad : List.of("\"x\"", "[1.5]", "[-1]", "[99999999]")) {
            HttpResponse<String> r = server.post("/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"x\","
                    + "\"context\":" + bad + "}");
            assertEquals(400, r.statusCode(), bad + ": " + r.body());
            assertTrue(r.body().contains("context"), r.body());
        }
    }
}
