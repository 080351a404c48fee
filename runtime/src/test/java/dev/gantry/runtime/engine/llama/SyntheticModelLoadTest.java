package dev.gantry.runtime.engine.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.synthetic.SyntheticModel;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.engine.EngineSession;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.engine.SequenceSampler;
import dev.gantry.runtime.engine.SessionParams;
import dev.gantry.runtime.testing.TestModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A model from Gantry's own GGUF writer loads in llama.cpp, tokenizes with its copied vocabulary and decodes. */
class SyntheticModelLoadTest {
    @Test
    void llamaCppLoadsAndDecodesASyntheticQ40Model(@TempDir Path dir) throws Exception {
        TestModels.llama();
        Path vocab = TestModels.sharedDir().resolve("llama-data/vocab/ggml-vocab-llama-spm.gguf");
        Path model = dir.resolve("synthetic.gguf");
        SyntheticModel.write(SyntheticModel.TINY, vocab, model, GgmlType.Q4_0);
        decodesFourTokens(model);
    }

    /** The zero-weight (sparse) model the GPU benchmark uses for a model larger than a card loads and decodes too. */
    @Test
    void llamaCppLoadsAndDecodesAZeroWeightModel(@TempDir Path dir) throws Exception {
        TestModels.llama();
        Path vocab = TestModels.sharedDir().resolve("llama-data/vocab/ggml-vocab-llama-spm.gguf");
        Path model = dir.resolve("zeros.gguf");
        SyntheticModel.write(SyntheticModel.shape("tiny:3"), vocab, model, GgmlType.Q4_0, true);
        decodesFourTokens(model);
    }

    private static void decodesFourTokens(Path model) throws Exception {
        try (Engine e = new LlamaCppEngineFactory().load(model, new EngineFactory.LoadParams(0, -1, true));
             EngineSession s = e.openSession(new SessionParams(256, 1, 64, 1, false, false))) {
            assertEquals(32000, e.info().vocabSize());
            int[] prompt = e.tokenize("Hello world", true, false);
            assertEquals(1, prompt[0], "llama-spm BOS");
            for (int i = 0; i < prompt.length; i++) {
                s.add(prompt[i], i, 0, i == prompt.length - 1);
            }
            try (SequenceSampler sampler = s.newSampler(0, SamplingParams.greedyDefaults().withIgnoreEos(true), prompt)) {
                int pos = prompt.length;
                for (int step = 0; step < 4; step++) {
                    assertEquals(EngineSession.DecodeStatus.OK, s.decode());
                    int token = s.sample(sampler, s.batchSize() - 1);
                    assertTrue(token >= 0 && token < 32000, "token " + token);
                    s.clearBatch();
                    s.add(token, pos++, 0, true);
                }
            }
        }
    }
}
