package dev.gantry.runtime.testing;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.gantry.llama.ContextParams;
import dev.gantry.llama.LlamaBatch;
import dev.gantry.llama.LlamaContextHandle;
import dev.gantry.llama.LlamaModelHandle;
import java.lang.foreign.MemorySegment;

/** The reference the embedding tests compare with: llama.cpp's own pooling of one input decoded alone in one pass. */
public final class LlamaPooling {
    private LlamaPooling() {}

    /**
     * The pooled embedding (the model's pooling type, mean where it names none) of {@code tokens} in a context of
     * its own, without flash attention; a reranker's scores where its pooling is rank.
     */
    public static float[] pooled(LlamaModelHandle model, int[] tokens) {
        int n = Math.max(256, tokens.length);
        int pooling = model.poolingType() < 0 ? 1 : -1; // 1: mean
        try (LlamaContextHandle ctx = LlamaContextHandle.create(model,
                new ContextParams(n, n, n, 1, 1, 1, 0, 1, true, true, false, pooling));
             LlamaBatch batch = LlamaBatch.allocate(n)) {
            for (int i = 0; i < tokens.length; i++) {
                batch.add(tokens[i], i, 0, true);
            }
            if (ctx.decode(batch) != 0) {
                throw new IllegalStateException("the reference decode failed");
            }
            MemorySegment pooled = ctx.sequenceEmbedding(0).orElseThrow();
            float[] out = new float[model.poolingType() == 4 ? model.classifierOutputs()
                    : model.embeddingOutputLength()];
            MemorySegment.copy(pooled, JAVA_FLOAT, 0, out, 0, out.length);
            return out;
        }
    }
}
