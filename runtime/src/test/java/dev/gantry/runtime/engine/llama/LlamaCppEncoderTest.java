package dev.gantry.runtime.engine.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.llama.ContextParams;
import dev.gantry.llama.LlamaContextHandle;
import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.synthetic.SyntheticBert;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.engine.Pooling;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.runner.Embedding;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerConfig;
import dev.gantry.runtime.testing.RecordingObserver;
import dev.gantry.runtime.testing.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An encoder-only embedding model (BERT, written by Gantry's synthetic writer in a real tokenizer's vocabulary)
 * through the runner on the real llama.cpp: llama.cpp keeps no KV cache for it and runs its encoder over a whole
 * input at once, so the runner decodes each input whole, even one longer than its prompt budget or one that fills
 * the whole context, and several inputs share a step without seeing each other. The vectors equal llama.cpp's own
 * pooling (mean, and the [CLS] token's) of the input decoded alone; generations are refused.
 */
class LlamaCppEncoderTest {
    private static Path dir;
    private static Engine mean;
    private static Engine cls;
    private static Engine nomic;
    private final List<Runner> runners = new ArrayList<>();

    @BeforeAll
    static void load() throws Exception {
        TestModels.llama();
        dir = Files.createTempDirectory("gantry-bert");
        Path vocab = TestModels.sharedDir().resolve("llama-data/vocab/ggml-vocab-bert-bge.gguf");
        Path meanFile = dir.resolve("bert-mean.gguf");
        Path clsFile = dir.resolve("bert-cls.gguf");
        SyntheticBert.write(SyntheticBert.TINY, vocab, meanFile, GgmlType.F32, SyntheticBert.POOLING_MEAN);
        SyntheticBert.write(SyntheticBert.TINY, vocab, clsFile, GgmlType.F32, SyntheticBert.POOLING_CLS);
        Path nomicFile = dir.resolve("nomic.gguf");
        SyntheticBert.write(SyntheticBert.NOMIC_TINY, vocab, nomicFile, GgmlType.F32, SyntheticBert.POOLING_MEAN);
        LlamaCppEngineFactory f = new LlamaCppEngineFactory();
        mean = f.load(meanFile, new EngineFactory.LoadParams(0, -1, true));
        cls = f.load(clsFile, new EngineFactory.LoadParams(0, -1, true));
        nomic = f.load(nomicFile, new EngineFactory.LoadParams(0, -1, true));
    }

    @AfterAll
    static void unload() throws Exception {
        for (Engine e : new Engine[] {mean, cls, nomic}) {
            if (e != null) {
                e.close();
            }
        }
        if (dir != null) {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
        }
    }

    @AfterEach
    void closeRunners() {
        runners.forEach(Runner::close);
    }

    /** A runner with 8 sequences of 512 tokens and {@code budget} prompt tokens a step. */
    private Runner runner(Engine engine, int budget) {
        Runner r = Runner.start("bert-" + runners.size(), engine,
                new RunnerConfig(512, 8 * 512, 8, 64, budget, 1, false, true));
        runners.add(r);
        return r;
    }

    private static int[] tokens(Engine engine, String text) {
        return engine.tokenize(text, true, false);
    }

    /** An input of exactly {@code n} tokens: [CLS], words in no repeating order, [SEP]. */
    private static int[] tokensOfLength(Engine engine, int n) {
        int[] sentence = tokens(engine, "x");
        int[] out = new int[n];
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(n);
        for (int i = 0; i < n; i++) {
            out[i] = 2000 + rnd.nextInt(28000); // whole words of the WordPiece vocabulary
        }
        out[0] = sentence[0];
        out[n - 1] = sentence[sentence.length - 1];
        return out;
    }

    /** llama.cpp's own pooling (the model's type) of the input decoded alone in one pass. */
    private static float[] llamaPooled(Engine engine, int[] tokens) {
        return dev.gantry.runtime.testing.LlamaPooling.pooled(((LlamaCppEngine) engine).model(), tokens);
    }

    private static float[] embed(Runner r, int[] tokens) throws Exception {
        Embedding e = r.embed(tokens).get(30, TimeUnit.SECONDS);
        assertEquals(tokens.length, e.promptTokens());
        return e.vector();
    }

    @Test
    void anEncoderIsKnownFromItsArchitecture() {
        assertTrue(mean.wholeInputs());
        try (LlamaContextHandle ctx = LlamaContextHandle.create(((LlamaCppEngine) mean).model(),
                new ContextParams(512, 512, 512, 1, 1, 1, 0, 1, true, true, false, -1))) {
            assertFalse(ctx.hasMemory(), "llama.cpp keeps no KV cache for an encoder");
        }
        assertEquals(Pooling.MEAN, mean.pooling());
        assertEquals(Pooling.CLS, cls.pooling());
        assertEquals(64, mean.embeddingSize());
        int[] t = tokens(mean, "hello world");
        assertEquals(101, t[0], "[CLS] leads");
        assertEquals(102, t[t.length - 1], "[SEP] ends");
    }

    @Test
    void anInputLongerThanThePromptBudgetIsDecodedWholeAsLlamaCppPoolsIt() throws Exception {
        int[] t = tokens(mean, "Sam and his mom went to the park. They saw a big tree, a little dog and a red ball");
        assertTrue(t.length > 16, "longer than the budget: " + t.length);
        Runner r = runner(mean, 8);
        assertArrayEquals(llamaPooled(mean, t), embed(r, t), 1e-4f);
        assertEquals(1, r.stats().steps(), "one pass, not chunks of the budget");
        assertEquals(0, r.stats().kvCellsUsed());
    }

    @Test
    void anInputThatFillsTheContextGoesInOnePass() throws Exception {
        int[] t = tokensOfLength(mean, 512);
        Runner r = runner(mean, 64); // a batch of 8 + 64 tokens would have been chunked, or asserted on
        assertArrayEquals(llamaPooled(mean, t), embed(r, t), 1e-4f);
        assertThrows(IllegalArgumentException.class, () -> r.embed(tokensOfLength(mean, 513)));
    }

    @Test
    void inputsSharingStepsDoNotSeeEachOther() throws Exception {
        int[][] inputs = {tokensOfLength(mean, 200), tokens(mean, "a cat sat on the mat"),
                tokensOfLength(mean, 300), tokens(mean, "hello"), tokensOfLength(mean, 40), tokensOfLength(mean, 512)};
        Runner r = runner(mean, 512);
        List<CompletableFuture<Embedding>> futures = new ArrayList<>();
        for (int[] in : inputs) {
            futures.add(r.embed(in));
        }
        for (int i = 0; i < inputs.length; i++) {
            assertArrayEquals(llamaPooled(mean, inputs[i]), futures.get(i).get(30, TimeUnit.SECONDS).vector(), 1e-4f,
                    "input " + i);
        }
        assertTrue(r.stats().steps() < inputs.length, "inputs shared steps: " + r.stats());
        assertTrue(r.stats().maxSequencesInStep() >= 2, r.stats().toString());
    }

    /**
     * nomic-bert (nomic-embed-text's architecture: rotary positions, fused QKV, gated feed-forward) with its context of
     * 2048: an input of 1500 tokens goes in one pass on the CPU too (the batch is one whole context there).
     */
    @Test
    void aNomicBertInputLongerThanTheCpuBatchIsDecodedWhole() throws Exception {
        assertTrue(nomic.wholeInputs());
        int[] longer = tokensOfLength(nomic, 1500);
        int[] shorter = tokens(nomic, "search_query: what is a cat");
        Runner r = Runner.start("nomic", nomic, new RunnerConfig(2048, 4 * 2048, 4, 64, 64, 1, false, true));
        runners.add(r);
        CompletableFuture<Embedding> a = r.embed(longer);
        CompletableFuture<Embedding> b = r.embed(shorter);
        assertArrayEquals(llamaPooled(nomic, longer), a.get(30, TimeUnit.SECONDS).vector(), 1e-4f);
        assertArrayEquals(llamaPooled(nomic, shorter), b.get(30, TimeUnit.SECONDS).vector(), 1e-4f);
    }

    /**
     * A pass packs inputs up to 512 tokens, whatever room the batch has (one context of nomic-bert's 2048 here):
     * llama.cpp's host work for an encoder's pass grows with the square of its length. A longer input goes alone.
     */
    @Test
    void aPassPacksInputsUpTo512TokensAndALongerInputAlone() throws Exception {
        Runner r = Runner.start("nomic-pass", nomic, new RunnerConfig(2048, 8 * 2048, 8, 64, 64, 1, false, true));
        runners.add(r);
        int[] longer = tokensOfLength(nomic, 1500);
        List<int[]> inputs = new ArrayList<>(List.of(longer));
        for (int i = 0; i < 4; i++) {
            inputs.add(tokensOfLength(nomic, 300 + i)); // two of them would make a pass of over 512
        }
        List<CompletableFuture<Embedding>> futures = new ArrayList<>();
        for (int[] in : inputs) {
            futures.add(r.embed(in)); // the four queue while the long one decodes
        }
        for (int i = 0; i < inputs.size(); i++) {
            assertArrayEquals(llamaPooled(nomic, inputs.get(i)), futures.get(i).get(30, TimeUnit.SECONDS).vector(),
                    1e-4f, "input " + i);
        }
        assertEquals(5, r.stats().steps(), r.stats().toString());
        assertEquals(1, r.stats().maxSequencesInStep(), r.stats().toString());
    }

    @Test
    void clsPoolingIsTheFirstTokensEmbedding() throws Exception {
        int[] t = tokens(cls, "Lily wanted to play with her ball in the garden");
        Runner r = runner(cls, 4);
        assertArrayEquals(llamaPooled(cls, t), embed(r, t), 1e-4f);
    }

    /**
     * On a GPU the session never runs two passes of one shape in a row (ggml's CUDA backend replays a captured graph
     * for those, which failed for encoders): a pass of the last one's size gets a token of a sequence of its own,
     * which changes no input's vector. Run here as a GPU session would, on the CPU.
     */
    @Test
    void aFillerTokenChangesTheShapeOfARepeatedPassAndNoVector() {
        int[] a = tokensOfLength(mean, 40);
        float[] alone = new float[64];
        float[] again = new float[64];
        try (LlamaCppSession s = new LlamaCppSession(((LlamaCppEngine) mean).model(),
                new dev.gantry.runtime.engine.SessionParams(4 * 512, 4, 512, 1, false, true), true, true, true)) {
            assertEquals(512, s.batchCapacity());
            assertEquals(4, s.maxSequences());
            s.embeddings(true);
            int[] passes = new int[2];
            int p = 0;
            for (float[] out : new float[][] {alone, again}) {
                s.clearBatch();
                for (int i = 0; i < a.length; i++) {
                    s.add(a[i], i, 0, true);
                }
                assertEquals(dev.gantry.runtime.engine.EngineSession.DecodeStatus.OK, s.decode());
                assertEquals(40, s.batchSize(), "the filler is out of the batch again");
                passes[p++] = s.lastPass;
                for (int i = 0; i < a.length; i++) {
                    s.addEmbedding(i, out);
                }
            }
            assertArrayEquals(new int[] {40, 41}, passes, "the second pass of 40 tokens ran as 41");
        }
        assertArrayEquals(alone, again, 1e-4f, "the second pass had the filler: the same vector");
        float[] reference = llamaPooled(mean, a); // without flash attention, which a GPU session has: 1e-3
        for (int d = 0; d < 64; d++) {
            assertEquals(reference[d], alone[d] / 40, 1e-3f);
        }
    }

    /** llama.cpp takes at most 256 sequence ids, and an encoder's GPU session keeps one for its filler. */
    @Test
    void anEncodersRunnerKeepsASequenceIdSpare() {
        Runner r = Runner.start("bert-max", mean, new RunnerConfig(512, 256 * 512, 256, 64, 512, 1, false, false));
        runners.add(r);
        assertEquals(255, r.config().maxSequences());
    }

    @Test
    void anEncoderDoesNotGenerate() {
        Runner r = runner(mean, 64);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.submit(
                new GenerationRequest(tokens(mean, "hello"), SamplingParams.greedyDefaults(), 8),
                new RecordingObserver()));
        assertTrue(e.getMessage().contains("cannot generate"), e.getMessage());
    }
}
