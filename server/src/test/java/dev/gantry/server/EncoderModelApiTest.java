package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.llama.LlamaModelHandle;
import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.synthetic.SyntheticBert;
import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.engine.llama.LlamaCppEngine;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An encoder-only embedding model (a BERT as {@code mxbai-embed-large} and {@code all-minilm} are, here Gantry's
 * synthetic one in BERT's real WordPiece vocabulary) through the real server: it embeds, each input decoded whole
 * even where it is longer than a step's prompt budget, with the vector llama.cpp's own pooling gives the input alone;
 * generate and chat refuse it in Ollama's words before loading it, as Ollama's capability check does.
 */
class EncoderModelApiTest {
    static final String MODEL = "bert-tiny";
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        Path models = Files.createTempDirectory("gantry-bert-models");
        Path vocab = dev.gantry.runtime.testing.TestModels.sharedDir()
                .resolve("llama-data/vocab/ggml-vocab-bert-bge.gguf");
        SyntheticBert.write(SyntheticBert.TINY, vocab, models.resolve(MODEL + ".gguf"), GgmlType.F32,
                SyntheticBert.POOLING_MEAN);
        // a prompt budget far below the inputs: an encoder's input must still go in whole
        server = TestServer.start(TestServer.defaults().withPromptBudget(16), models);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static String words(int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append(i == 0 ? "" : " ").append(Integer.toString(i * 7919 % 997, 36)).append(i % 3 == 0 ? "," : "");
        }
        return b.toString();
    }

    private static LoadedModel loaded() {
        return server.gantry.models().loadedModel(MODEL + ":latest").orElseThrow();
    }

    /** llama.cpp's own pooling of {@code text}'s tokens decoded alone in one pass, L2-normalised. */
    private static double[] reference(String text) {
        return reference(loaded().tokenize(text, true, false));
    }

    private static double[] reference(int[] tokens) {
        LlamaModelHandle model = ((LlamaCppEngine) loaded().replicas().getFirst().engine()).model();
        float[] pooled = dev.gantry.runtime.testing.LlamaPooling.pooled(model, tokens);
        double norm = 0;
        for (float x : pooled) {
            norm += (double) x * x;
        }
        double[] v = new double[pooled.length];
        for (int d = 0; d < v.length; d++) {
            v[d] = pooled[d] / Math.sqrt(norm);
        }
        return v;
    }

    private static void assertVector(double[] expected, JsonNode actual, String what) {
        assertEquals(expected.length, actual.size(), what);
        for (int d = 0; d < expected.length; d++) {
            assertEquals(expected[d], actual.get(d).doubleValue(), 1e-4, what + ", dimension " + d);
        }
    }

    @Test
    void showListsOnlyTheEmbeddingCapability() throws Exception {
        JsonNode r = TestServer.ok(server.post("/api/show", "{\"model\":\"" + MODEL + "\"}"));
        assertEquals("[\"embedding\"]", r.get("capabilities").toString());
        assertEquals("bert", r.get("details").get("family").textValue());
    }

    @Test
    void inputsOfEveryLengthAreEmbeddedWholeAsLlamaCppPoolsThem() throws Exception {
        String[] inputs = {words(120), "a cat sat on the mat", words(50), "hello"};
        StringBuilder list = new StringBuilder();
        for (String in : inputs) {
            list.append(list.isEmpty() ? "" : ",").append('"').append(in).append('"');
        }
        JsonNode r = TestServer.ok(server.post("/api/embed", "{\"model\":\"" + MODEL + "\",\"input\":[" + list + "]}"));
        assertEquals(inputs.length, r.get("embeddings").size());
        int tokens = 0;
        for (int i = 0; i < inputs.length; i++) {
            assertVector(reference(inputs[i]), r.get("embeddings").get(i), "input " + i);
            tokens += server.gantry.models().loadedModel(MODEL + ":latest").orElseThrow()
                    .tokenize(inputs[i], true, false).length;
        }
        assertTrue(tokens > 200, "the long input is longer than the budget of 16: " + tokens);
        assertEquals(tokens, r.get("prompt_eval_count").intValue());
        JsonNode openai = TestServer.ok(server.post("/v1/embeddings", "{\"model\":\"" + MODEL + "\",\"input\":\"" + inputs[0]
                + "\"}"));
        assertVector(reference(inputs[0]), openai.get("data").get(0).get("embedding"), "OpenAI's route");
    }

    @Test
    void aTooLongInputIsCutToTheContextOrRefused() throws Exception {
        String longer = words(900); // well over the model's 512 positions
        HttpResponse<String> refused = server.post("/api/embed", "{\"model\":\"" + MODEL + "\",\"input\":\""
                + longer + "\",\"truncate\":false}");
        assertEquals(400, refused.statusCode(), refused.body());
        assertTrue(TestServer.json(refused.body()).get("error").textValue().contains("context length"),
                refused.body());
        JsonNode cut = TestServer.ok(server.post("/api/embed", "{\"model\":\"" + MODEL + "\",\"input\":\"" + longer + "\"}"));
        assertEquals(512, cut.get("prompt_eval_count").intValue());
        // cut as Ollama cuts it: [CLS], the first 510 tokens of the text, [SEP]
        int[] plain = loaded().tokenize(longer, false, false);
        int[] expected = new int[512];
        expected[0] = 101;
        System.arraycopy(plain, 0, expected, 1, 510);
        expected[511] = 102;
        assertVector(reference(expected), cut.get("embeddings").get(0), "the cut input");
        // a larger num_ctx than the model's positions is held to them, as Ollama holds it to the training context
        JsonNode held = TestServer.ok(server.post("/api/embed", "{\"model\":\"" + MODEL + "\",\"input\":\"" + longer
                + "\",\"options\":{\"num_ctx\":4096}}"));
        assertEquals(512, held.get("prompt_eval_count").intValue());
    }

    @Test
    void generateAndChatAreRefusedInOllamasWords() throws Exception {
        String quoted = "\\\"" + MODEL + "\\\"";
        HttpResponse<String> g = server.post("/api/generate", "{\"model\":\"" + MODEL + "\",\"prompt\":\"hi\"}");
        assertEquals(400, g.statusCode());
        assertEquals("{\"error\":\"" + quoted + " does not support generate\"}", g.body());
        HttpResponse<String> images = server.post("/api/generate", "{\"model\":\"" + MODEL
                + "\",\"prompt\":\"hi\",\"images\":[\"aGVsbG8=\"]}");
        assertEquals("{\"error\":\"" + quoted + " does not support generate\"}", images.body(),
                "the capability is checked first, as in Ollama");
        HttpResponse<String> load = server.post("/api/generate", "{\"model\":\"" + MODEL + "\"}");
        assertEquals(400, load.statusCode(), "a load through generate is refused too, as in Ollama");
        HttpResponse<String> c = server.post("/api/chat", "{\"model\":\"" + MODEL
                + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":false}");
        assertEquals(400, c.statusCode());
        assertEquals("{\"error\":\"" + quoted + " does not support chat\"}", c.body());
        HttpResponse<String> chatImages = server.post("/api/chat", "{\"model\":\"" + MODEL
                + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"images\":[\"aGVsbG8=\"]}]}");
        assertEquals("{\"error\":\"" + quoted + " does not support chat\"}", chatImages.body());
        HttpResponse<String> o = server.post("/v1/chat/completions", "{\"model\":\"" + MODEL
                + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        assertEquals(400, o.statusCode());
        assertEquals("invalid_request_error", TestServer.json(o.body()).get("error").get("type").textValue());
        // what `ollama stop` sends still unloads it
        JsonNode stopped = TestServer.ok(server.post("/api/generate", "{\"model\":\"" + MODEL + "\",\"keep_alive\":0}"));
        assertEquals("unload", stopped.get("done_reason").textValue());
    }

    @Test
    void theMemoryEstimateHasNoKvCache() throws Exception {
        TestServer.ok(server.post("/api/embed", "{\"model\":\"" + MODEL + "\",\"input\":\"hello\"}"));
        JsonNode ps = TestServer.ok(server.get("/api/ps"));
        for (JsonNode m : ps.get("models")) {
            if (m.get("name").textValue().startsWith(MODEL)) {
                long size = m.get("size").longValue();
                long file = Files.size(server.gantry.models().loadedModel(MODEL + ":latest").orElseThrow().model()
                        .path());
                assertTrue(size < file + (64L << 20), String.format(Locale.ROOT,
                        "the file (%d) and compute buffers, no cache: %d", file, size));
                return;
            }
        }
        throw new AssertionError("not in /api/ps: " + ps);
    }
}
