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
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A reranker (Gantry's synthetic BERT with rank pooling and a classifier head, as {@code bge-reranker} is) through the
 * real server: each document's score is llama.cpp's own for the pair [CLS] query [SEP] document [SEP] decoded alone,
 * whatever else shares its step; results come best first; the embedding endpoints refuse it and the rerank endpoint
 * refuses an embedding model.
 */
class RerankApiTest {
    static final String MODEL = "rerank-tiny";
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        Path models = Files.createTempDirectory("gantry-rerank-models");
        Path vocab = dev.gantry.runtime.testing.TestModels.sharedDir()
                .resolve("llama-data/vocab/ggml-vocab-bert-bge.gguf");
        SyntheticBert.write(SyntheticBert.TINY, vocab, models.resolve(MODEL + ".gguf"), GgmlType.F32,
                SyntheticBert.POOLING_RANK);
        SyntheticBert.write(SyntheticBert.TINY, vocab, models.resolve("embed-tiny.gguf"), GgmlType.F32,
                SyntheticBert.POOLING_MEAN);
        // the same reranker with a rerank template that writes the pair as the tokenizer's marks do
        dev.gantry.runtime.testing.GgufCopy.copy(models.resolve(MODEL + ".gguf"), models.resolve("rerank-tmpl.gguf"),
                (meta, w) -> w.putString("tokenizer.chat_template.rerank", "[CLS]{query}[SEP]{document}[SEP]"));
        // a decoder reranker, as Qwen3-Reranker: its rerank template makes the pair, its last token is scored
        dev.gantry.models.synthetic.SyntheticQwen3Reranker.write(dev.gantry.runtime.testing.TestModels.sharedDir()
                .resolve("llama-data/vocab/ggml-vocab-qwen2.gguf"), models.resolve("qwen3-rerank.gguf"));
        // a llama with rank pooling: llama.cpp would score it at the wrong token, with no head
        dev.gantry.runtime.testing.GgufCopy.copy(dev.gantry.runtime.testing.TestModels.tinyModel(),
                models.resolve("llama-rank.gguf"), (meta, w) -> w.putU32("llama.pooling_type", 4));
        // a prompt budget below a long pair: its input spans steps, and its last chunk's decode scores it
        server = TestServer.start(TestServer.defaults().withPromptBudget(32), models);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static LoadedModel loaded() {
        return server.gantry.models().loadedModel(MODEL + ":latest").orElseThrow();
    }

    /** llama.cpp's own score of one pair, decoded alone in a context of its own. */
    private static float reference(String query, String document) {
        LoadedModel m = loaded();
        LlamaModelHandle model = ((LlamaCppEngine) m.replicas().getFirst().engine()).model();
        int cls = model.bos();
        int sep = model.eos() >= 0 ? model.eos() : model.sep();
        int[] q = m.tokenize(query, false, false);
        int[] d = m.tokenize(document, false, false);
        int[] pair = new int[q.length + d.length + 3];
        pair[0] = cls;
        System.arraycopy(q, 0, pair, 1, q.length);
        pair[q.length + 1] = sep;
        System.arraycopy(d, 0, pair, q.length + 2, d.length);
        pair[pair.length - 1] = sep;
        return dev.gantry.runtime.testing.LlamaPooling.pooled(model, pair)[0];
    }

    private static JsonNode ok(HttpResponse<String> r) throws Exception {
        assertEquals(200, r.statusCode(), r.body());
        return TestServer.json(r.body());
    }

    @Test
    void scoresArePairsScoredAloneBestFirst() throws Exception {
        String query = "where do cats sleep";
        String[] docs = {"the cat sleeps on the warm mat", "stock prices fell sharply today", "dogs bark at night",
            "the cat sleeps on the warm mat", "a recipe for bread with seeds and honey"};
        JsonNode r = ok(server.post("/v1/rerank", "{\"model\":\"" + MODEL + "\",\"query\":\"" + query + "\","
                + "\"documents\":[\"" + String.join("\",\"", docs) + "\"]}"));
        assertEquals("list", r.get("object").textValue());
        JsonNode results = r.get("results");
        assertEquals(docs.length, results.size(), r.toString());
        Set<Integer> seen = new HashSet<>();
        double previous = Double.POSITIVE_INFINITY;
        float[] byIndex = new float[docs.length];
        for (JsonNode x : results) {
            int i = x.get("index").intValue();
            assertTrue(seen.add(i), "each document once: " + r);
            double s = x.get("relevance_score").doubleValue();
            assertTrue(s <= previous, "best first: " + r);
            previous = s;
            byIndex[i] = (float) s;
            assertEquals(reference(query, docs[i]), s, 1e-4, "document " + i + " as llama.cpp scores it alone");
        }
        assertEquals(byIndex[0], byIndex[3], 1e-4, "the same pair, the same score, wherever it sits in a step");
        assertTrue(r.at("/usage/prompt_tokens").intValue() > docs.length * 3, r.toString());
        assertTrue(byIndex[0] != byIndex[1], "a score that depends on the document: " + r);
    }

    @Test
    void topNAndDocumentsAsAsked() throws Exception {
        JsonNode r = ok(server.post("/rerank", "{\"model\":\"" + MODEL + "\",\"query\":\"cats\",\"top_n\":2,"
                + "\"return_documents\":true,\"documents\":[\"one\",{\"text\":\"two\"},\"three\"]}"));
        assertEquals(2, r.get("results").size(), r.toString());
        for (JsonNode x : r.get("results")) {
            String expected = new String[] {"one", "two", "three"}[x.get("index").intValue()];
            assertEquals(expected, x.at("/document/text").textValue(), r.toString());
        }
        JsonNode all = ok(server.post("/v1/reranking", "{\"model\":\"" + MODEL + "\",\"query\":\"cats\","
                + "\"top_n\":10,\"documents\":[\"one\",\"two\"]}"));
        assertEquals(2, all.get("results").size());
        assertTrue(all.at("/results/0/document").isMissingNode());
        // a whole number written as a float, or beyond any count: as many as there are; stream is no option here
        HttpResponse<String> r2 = server.post("/v1/rerank", "{\"model\":\"" + MODEL + "\",\"query\":\"cats\","
                + "\"top_n\":2.0,\"stream\":true,\"documents\":[\"one\",\"two\",\"three\"]}");
        assertTrue(r2.headers().firstValue("content-type").orElse("").startsWith("application/json"), r2.toString());
        assertEquals(2, ok(r2).get("results").size());
        assertEquals(3, ok(server.post("/v1/rerank", "{\"model\":\"" + MODEL + "\",\"query\":\"cats\","
                + "\"top_n\":99999999999999,\"documents\":[\"one\",\"two\",\"three\"]}")).get("results").size());
    }

    @Test
    void aLongDocumentIsCutToTheContext() throws Exception {
        String longDoc = "word ".repeat(2000);
        JsonNode r = ok(server.post("/v1/rerank", "{\"model\":\"" + MODEL + "\",\"query\":\"cats\","
                + "\"documents\":[\"" + longDoc + "\",\"short\"]}"));
        assertEquals(2, r.get("results").size(), r.toString());
    }

    /** Text Embeddings Inference's form, as llama-server takes it: texts in, a bare list of index and score out. */
    @Test
    void teiFormIsAnsweredInKind() throws Exception {
        JsonNode r = ok(server.post("/rerank", "{\"model\":\"" + MODEL + "\",\"query\":\"cats\","
                + "\"texts\":[\"one\",\"two\",\"three\"],\"return_text\":true}"));
        assertTrue(r.isArray(), r.toString());
        assertEquals(3, r.size());
        for (JsonNode x : r) {
            assertEquals(new String[] {"one", "two", "three"}[x.get("index").intValue()], x.get("text").textValue());
            assertTrue(x.get("score").isNumber(), r.toString());
        }
        assertTrue(r.get(0).get("score").doubleValue() >= r.get(2).get("score").doubleValue(), "best first");
    }

    /** A model's rerank template makes the pair; a long document is cut inside it, the template's end kept. */
    @Test
    void aRerankTemplateMakesThePair() throws Exception {
        String docs = "[\"the cat sleeps on the warm mat\",\"" + "word ".repeat(2000) + "\"]";
        JsonNode plain = ok(server.post("/v1/rerank", "{\"model\":\"" + MODEL + "\",\"query\":\"cats\","
                + "\"documents\":" + docs + "}"));
        JsonNode templated = ok(server.post("/v1/rerank", "{\"model\":\"rerank-tmpl\",\"query\":\"cats\","
                + "\"documents\":" + docs + "}"));
        for (int k = 0; k < 2; k++) {
            assertEquals(plain.at("/results/" + k + "/index").intValue(), templated.at("/results/" + k + "/index").intValue());
            assertEquals(plain.at("/results/" + k + "/relevance_score").doubleValue(),
                    templated.at("/results/" + k + "/relevance_score").doubleValue(), 1e-4, templated.toString());
        }
        assertEquals(plain.at("/usage/prompt_tokens").intValue(), templated.at("/usage/prompt_tokens").intValue());
    }

    /**
     * A decoder reranker (Qwen3-Reranker's shape): each pair through its rerank template, scored at its last token as
     * llama.cpp scores the same tokens decoded alone, though a long pair spans several steps.
     */
    @Test
    void aDecoderRerankerScoresItsLastToken() throws Exception {
        String query = "where do cats sleep";
        String[] docs = {"the cat sleeps on the warm mat", "stock prices fell", "word ".repeat(60).strip()};
        JsonNode r = ok(server.post("/v1/rerank", "{\"model\":\"qwen3-rerank\",\"query\":\"" + query + "\","
                + "\"documents\":[\"" + String.join("\",\"", docs) + "\"]}"));
        assertEquals(3, r.get("results").size(), r.toString());
        LoadedModel m = server.gantry.models().loadedModel("qwen3-rerank:latest").orElseThrow();
        LlamaModelHandle model = ((LlamaCppEngine) m.replicas().getFirst().engine()).model();
        for (JsonNode x : r.get("results")) {
            int i = x.get("index").intValue();
            String text = dev.gantry.models.synthetic.SyntheticQwen3Reranker.RERANK_TEMPLATE
                    .replace("{query}", query).replace("{document}", docs[i]);
            float expected = dev.gantry.runtime.testing.LlamaPooling.pooled(model, m.tokenize(text, false, true))[0];
            assertEquals(expected, x.get("relevance_score").doubleValue(), 1e-4, "document " + i + ": " + r);
        }
        assertTrue(r.at("/results/0/relevance_score").doubleValue() > r.at("/results/2/relevance_score").doubleValue(),
                "scores that tell documents apart (a one-output head's softmax is always 1): " + r);
        assertTrue(r.at("/usage/prompt_tokens").intValue() > 32 * 2, "the long pair spanned steps: " + r);
        assertEquals("[\"rerank\"]", TestServer.json(server.post("/api/show", "{\"model\":\"qwen3-rerank\"}")
                .body()).get("capabilities").toString());
        assertEquals(400, server.post("/api/generate", "{\"model\":\"qwen3-rerank\",\"prompt\":\"hi\"}")
                .statusCode());
        HttpResponse<String> other = server.post("/v1/rerank", "{\"model\":\"llama-rank\",\"query\":\"q\","
                + "\"documents\":[\"a\"]}");
        assertEquals(400, other.statusCode(), other.body());
        assertTrue(other.body().contains("not served"), other.body());
        assertTrue(server.gantry.models().loadedModel("llama-rank:latest").isEmpty(), "refused before it loads");
    }

    @Test
    void mistakesAreClientErrors() throws Exception {
        String[] bodies = {
            "{\"model\":\"" + MODEL + "\",\"documents\":[\"a\"]}",
            "{\"model\":\"" + MODEL + "\",\"query\":\"q\"}",
            "{\"model\":\"" + MODEL + "\",\"query\":\"q\",\"documents\":[]}",
            "{\"model\":\"" + MODEL + "\",\"query\":\"q\",\"documents\":[1]}",
            "{\"model\":\"" + MODEL + "\",\"query\":7,\"documents\":[\"a\"]}",
            "{\"model\":\"" + MODEL + "\",\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":0}",
            "{\"model\":\"" + MODEL + "\",\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":1.5}",
            "{\"model\":\"embed-tiny\",\"query\":\"q\",\"documents\":[\"a\"]}",
        };
        for (String b : bodies) {
            HttpResponse<String> r = server.post("/v1/rerank", b);
            assertEquals(400, r.statusCode(), b + " -> " + r.body());
            assertTrue(TestServer.json(r.body()).at("/error/message").isTextual(), "OpenAI's shape: " + r.body());
            HttpResponse<String> plain = server.post("/rerank", b);
            assertEquals(400, plain.statusCode(), b + " -> " + plain.body());
        }
        assertEquals(404, server.post("/v1/rerank", "{\"model\":\"nope\",\"query\":\"q\",\"documents\":[\"a\"]}")
                .statusCode());
        // an embedding model is refused before it loads; show names the reranker's capability
        assertTrue(server.gantry.models().loadedModel("embed-tiny:latest").isEmpty(), "not loaded to be refused");
        assertEquals("[\"rerank\"]", TestServer.json(server.post("/api/show", "{\"model\":\"" + MODEL + "\"}").body())
                .get("capabilities").toString());
        // a reranker has no embeddings
        for (String path : new String[] {"/api/embed", "/v1/embeddings"}) {
            HttpResponse<String> r = server.post(path, "{\"model\":\"" + MODEL + "\",\"input\":\"cats\"}");
            assertEquals(400, r.statusCode(), r.body());
            assertTrue(r.body().contains("reranker"), r.body());
        }
        assertEquals(400, server.post("/api/embeddings", "{\"model\":\"" + MODEL + "\",\"prompt\":\"cats\"}")
                .statusCode());
    }
}
