package dev.gantry.runtime.engine.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.engine.Pooling;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.runner.Embedding;
import dev.gantry.runtime.runner.FinishReason;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerConfig;
import dev.gantry.runtime.runner.RunnerStats;
import dev.gantry.runtime.testing.RecordingObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Embeddings through the runner that generates, on the real tiny model: the pooled vector equals llama.cpp's own mean
 * pooling, chunking and sharing steps with generations change neither the vector nor the generated text, and the
 * input's KV cells are freed when it completes.
 */
class LlamaCppEmbeddingTest extends TinyEngineTestBase {
    private static final Duration WAIT = Duration.ofSeconds(30);

    private Runner runner(boolean backendSampling, int promptBudget) {
        return start("embed",
                new RunnerConfig(256, 8 * 256, 8, 16, promptBudget, 1, backendSampling, false));
    }

    private static int[] tokens(String text) {
        return engine.tokenize(text, true, false);
    }

    private static float[] embed(Runner r, int[] tokens) throws Exception {
        Embedding e = r.embed(tokens).get(30, TimeUnit.SECONDS);
        assertEquals(tokens.length, e.promptTokens());
        return e.vector();
    }

    /** llama.cpp's mean pooling of the whole input in one decode, straight through the binding. */
    private static float[] llamaMean(int[] tokens) {
        return dev.gantry.runtime.testing.LlamaPooling.pooled(model, tokens);
    }

    @Test
    void theVectorIsLlamaCppsMeanPooling() throws Exception {
        assertEquals(64, engine.embeddingSize());
        assertEquals(Pooling.MEAN, engine.pooling(), "no pooling type in the GGUF: mean");
        int[] t = tokens("Once upon a time there was a little cat");
        Runner r = runner(false, 64);
        float[] v = embed(r, t);
        assertArrayEquals(llamaMean(t), v, 1e-4f);
        assertArrayEquals(v, embed(r, t), 1e-6f, "the same input gives the same vector");
        RunnerStats s = r.stats();
        assertEquals(2, s.embeddings());
        assertEquals(0, s.kvCellsUsed(), "the input's cells are freed when it completes");
    }

    @Test
    void aChunkedInputPoolsToTheSameVector() throws Exception {
        int[] t = tokens("Sam and his mom went to the park. They saw a big tree and a little dog");
        assertTrue(t.length > 9);
        float[] whole = embed(runner(false, 256), t);
        Runner chunked = runner(false, 3);
        float[] pieces = embed(chunked, t);
        assertArrayEquals(whole, pieces, 1e-4f);
        assertTrue(chunked.stats().steps() >= t.length / 3, chunked.stats().toString());
    }

    @Test
    void embeddingsShareStepsWithGenerationsAndChangeNothing() throws Exception {
        mixes(false);
    }

    @Test
    void withDeviceSamplersEmbeddingsStillRideWithGeneratingTokens() throws Exception {
        mixes(true);
    }

    private void mixes(boolean backendSampling) throws Exception {
        int[] prompt = tokens("Once upon a time");
        int[] input = tokens("Lily wanted to play with her ball in the garden");
        SamplingParams greedy = SamplingParams.greedyDefaults().withIgnoreEos(true);
        Runner solo = runner(backendSampling, 64);
        RecordingObserver alone = new RecordingObserver();
        solo.submit(new GenerationRequest(prompt, greedy, 48), alone);
        int[] expectedTokens = alone.awaitFinish(WAIT).reason() == FinishReason.LENGTH ? alone.tokens() : null;
        float[] expectedVector = embed(solo, input);

        Runner r = runner(backendSampling, 64);
        RecordingObserver gen = new RecordingObserver();
        List<CompletableFuture<Embedding>> embeds = new ArrayList<>();
        // Submitted from the runner thread at the 5th and 20th tokens: the next steps carry both kinds.
        gen.onTokenCount(5, tok -> embeds.add(r.embed(input)));
        gen.onTokenCount(20, tok -> embeds.add(r.embed(input)));
        r.submit(new GenerationRequest(prompt, greedy, 48), gen);
        assertEquals(FinishReason.LENGTH, gen.awaitFinish(WAIT).reason());
        assertArrayEquals(expectedTokens, gen.tokens(), "embeddings in the same steps leave the generation alone");
        assertEquals(2, embeds.size());
        for (CompletableFuture<Embedding> f : embeds) {
            assertArrayEquals(expectedVector, f.get(30, TimeUnit.SECONDS).vector(), 1e-4f);
        }
        RunnerStats s = r.stats();
        assertTrue(s.mixedSteps() >= 2, s.toString());
        assertEquals(2, s.embeddings());
        assertEquals(0, s.kvCellsUsed());
    }

    @Test
    void anInputLongerThanTheContextIsRefused() {
        Runner r = runner(false, 64);
        assertThrows(IllegalArgumentException.class, () -> r.embed(new int[257]));
    }
}
