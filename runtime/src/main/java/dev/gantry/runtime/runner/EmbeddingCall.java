package dev.gantry.runtime.runner;

import dev.gantry.runtime.engine.EngineSession;
import dev.gantry.runtime.engine.Pooling;
import java.util.concurrent.CompletableFuture;

/**
 * An embedding input's observer inside a runner, and its pooling: each step adds the input's chunk of token
 * embeddings to its vector as the model pools (first token, last token, or all of them for the mean), and the
 * future completes from the runner thread with the vector on STOP, or fails.
 */
final class EmbeddingCall implements GenerationObserver {
    final CompletableFuture<Embedding> future = new CompletableFuture<>();
    float[] vector;

    /** Adds this step's chunk of {@code s} to its pooled vector (before {@code s.cached} moves on). */
    static void pool(Pooling pooling, EngineSession session, Sequence s) {
        switch (pooling) {
            case CLS -> {
                if (s.cached == 0) {
                    session.addEmbedding(s.batchIndex, s.pooled);
                }
            }
            case RANK -> {
                if (s.cached + s.chunk == s.length) { // the input's end is in this decode: llama.cpp scored it
                    session.sequenceScores(s.id, s.pooled);
                }
            }
            case LAST -> {
                if (s.cached + s.chunk == s.length) {
                    session.addEmbedding(s.batchIndex + s.chunk - 1, s.pooled);
                }
            }
            default -> {
                for (int i = 0; i < s.chunk; i++) {
                    session.addEmbedding(s.batchIndex + i, s.pooled);
                }
            }
        }
    }

    /** The finished vector of {@code s}: its sum divided by its length for mean pooling, as it is otherwise. */
    static float[] finishPooling(Pooling pooling, Sequence s) {
        float[] v = s.pooled;
        if (pooling == Pooling.MEAN) {
            for (int d = 0; d < v.length; d++) {
                v[d] /= s.length;
            }
        }
        return v;
    }

    @Override
    public void onToken(int token) {
        // never called: embedding inputs are not sampled
    }

    @Override
    public void onFinish(FinishReason reason, GenerationMetrics m) {
        switch (reason) {
            case STOP -> future.complete(new Embedding(vector, m.promptTokens(), m.queueNanos(), m.totalNanos()));
            case CANCELLED -> future.cancel(false);
            case LENGTH -> future.completeExceptionally(new IllegalArgumentException(
                    "the input does not fit the free KV cache"));
        }
    }

    @Override
    public void onError(Throwable error) {
        future.completeExceptionally(error);
    }
}
