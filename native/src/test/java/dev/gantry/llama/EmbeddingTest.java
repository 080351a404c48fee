package dev.gantry.llama;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The embedding calls on the real tiny model: per-token embeddings with pooling none, toggled per decode, and
 * llama.cpp's own mean pooling, which the runner's pooling in Java must agree with.
 */
class EmbeddingTest {
    static LlamaModelHandle model;

    @BeforeAll
    static void load() {
        NativeTestSupport.llama();
        model = LlamaModelHandle.load(NativeTestSupport.tinyModel(), NativeTestSupport.cpu());
    }

    @AfterAll
    static void free() {
        model.close();
    }

    @Test
    void theTinyModelIsGenerativeWithoutAPoolingType() {
        assertEquals(64, model.embeddingOutputLength());
        assertEquals(-1, model.poolingType());
        try (LlamaContextHandle ctx = LlamaContextHandle.create(model, params(-1))) {
            assertEquals(0, ctx.poolingType(), "no pooling in the GGUF: llama.cpp uses none");
        }
    }

    @Test
    void perTokenEmbeddingsAveragedMatchLlamaCppsMeanPooling() {
        int[] tokens = model.tokenize("Once upon a time there was a cat", true, false);
        float[] javaMean = new float[64];
        try (LlamaContextHandle ctx = LlamaContextHandle.create(model, params(0));
             LlamaBatch batch = LlamaBatch.allocate(64)) {
            ctx.setEmbeddings(true);
            for (int i = 0; i < tokens.length; i++) {
                batch.add(tokens[i], i, 0, true);
            }
            assertEquals(0, ctx.decode(batch));
            for (int i = 0; i < tokens.length; i++) {
                MemorySegment e = ctx.embedding(i);
                for (int d = 0; d < 64; d++) {
                    javaMean[d] += e.getAtIndex(JAVA_FLOAT, d) / tokens.length;
                }
            }
            assertTrue(ctx.sequenceEmbedding(0).isEmpty(), "pooling none has no sequence embedding");
        }
        float[] llamaMean = new float[64];
        try (LlamaContextHandle ctx = LlamaContextHandle.create(model, params(1));
             LlamaBatch batch = LlamaBatch.allocate(64)) {
            ctx.setEmbeddings(true);
            for (int i = 0; i < tokens.length; i++) {
                batch.add(tokens[i], i, 0, true);
            }
            assertEquals(0, ctx.decode(batch));
            MemorySegment pooled = ctx.sequenceEmbedding(0).orElseThrow();
            for (int d = 0; d < 64; d++) {
                llamaMean[d] = pooled.getAtIndex(JAVA_FLOAT, d);
            }
        }
        assertArrayEquals(llamaMean, javaMean, 1e-4f);
    }

    @Test
    void embeddingsToggleOffForGeneration() {
        try (LlamaContextHandle ctx = LlamaContextHandle.create(model, params(0));
             LlamaBatch batch = LlamaBatch.allocate(64);
             LlamaSampler greedy = LlamaSampler.chain().greedy().build()) {
            int[] tokens = model.tokenize("Once upon a time", true, false);
            ctx.setEmbeddings(true);
            for (int i = 0; i < tokens.length; i++) {
                batch.add(tokens[i], i, 1, true);
            }
            assertEquals(0, ctx.decode(batch));
            assertEquals(64, ctx.embedding(tokens.length - 1).byteSize() / 4);
            ctx.removeSequence(1, -1, -1);
            ctx.setEmbeddings(false);
            batch.clear();
            for (int i = 0; i < tokens.length; i++) {
                batch.add(tokens[i], i, 0, i == tokens.length - 1);
            }
            assertEquals(0, ctx.decode(batch));
            int token = greedy.sample(ctx, tokens.length - 1);
            assertTrue(token >= 0 && token < model.vocabSize());
        }
    }

    private static ContextParams params(int pooling) {
        return new ContextParams(256, 64, 64, 2, 1, 1, 0, 1, false, false, false, pooling);
    }
}
