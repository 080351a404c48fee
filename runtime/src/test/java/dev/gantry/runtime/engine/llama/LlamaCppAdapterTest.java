package dev.gantry.runtime.engine.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.llama.ContextParams;
import dev.gantry.llama.LlamaBatch;
import dev.gantry.llama.LlamaContextHandle;
import dev.gantry.llama.LlamaModelHandle;
import dev.gantry.llama.LlamaSampler;
import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.synthetic.SyntheticBert;
import dev.gantry.models.synthetic.SyntheticLora;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.testing.TestModels;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA adapters through the engine factory, on the real tiny model with adapters {@link SyntheticLora} writes: every
 * context of the model applies them (llama.cpp's {@code llama_set_adapters_lora}).
 */
class LlamaCppAdapterTest {
    @TempDir
    static Path dir;
    static Path zero;
    static Path strong;
    static LlamaCppEngineFactory factory;

    @BeforeAll
    static void write() throws Exception {
        TestModels.llama();
        zero = dir.resolve("zero.gguf");
        strong = dir.resolve("strong.gguf");
        assertEquals(35, SyntheticLora.write(TestModels.tinyModel(), zero, 4, 4, 0.5, true), "5 layers of 7 matrices");
        SyntheticLora.write(TestModels.tinyModel(), strong, 4, 4, 0.5, false);
        factory = new LlamaCppEngineFactory();
    }

    private static int[] greedy(List<Path> adapters, String text, int n) {
        Engine e = factory.load(TestModels.tinyModel(),
                new EngineFactory.LoadParams(0, -1, true).withAdapters(adapters));
        try {
            LlamaModelHandle model = ((LlamaCppEngine) e).model();
            int[] prompt = model.tokenize(text, true, false);
            try (LlamaContextHandle ctx = LlamaContextHandle.create(model, ContextParams.of(256, 1, 1));
                 LlamaBatch batch = LlamaBatch.allocate(256);
                 LlamaSampler sampler = LlamaSampler.chain().greedy().build()) {
                for (int i = 0; i < prompt.length; i++) {
                    batch.add(prompt[i], i, 0, i == prompt.length - 1);
                }
                int[] out = new int[n];
                for (int i = 0; i < n; i++) {
                    assertEquals(0, ctx.decode(batch));
                    out[i] = sampler.sample(ctx, batch.size() - 1);
                    batch.clear();
                    batch.add(out[i], prompt.length + i, 0, true);
                }
                return out;
            }
        } finally {
            e.close();
        }
    }

    @Test
    void anAdapterWithZeroBChangesNothingAndARandomOneChangesTheText() {
        int[] base = greedy(List.of(), "Once upon a time", 24);
        assertArrayEquals(base, greedy(List.of(zero), "Once upon a time", 24), "B = 0: W + BA is W");
        int[] adapted = greedy(List.of(strong), "Once upon a time", 24);
        assertFalse(Arrays.equals(base, adapted), "the adapter changes what the model says");
        assertArrayEquals(adapted, greedy(List.of(zero, strong), "Once upon a time", 24), "two adapters add up");
    }

    @Test
    void anAdapterForAnotherArchitectureOrNoFileFailsTheLoadWithTheReason() throws Exception {
        Path bert = dir.resolve("bert.gguf");
        SyntheticBert.write(SyntheticBert.TINY, TestModels.sharedDir().resolve("llama-data/vocab/ggml-vocab-bert-bge.gguf"),
                bert, GgmlType.F32, SyntheticBert.POOLING_MEAN);
        Path bertLora = dir.resolve("bert-lora.gguf");
        SyntheticLora.write(bert, bertLora, 2, 2, 0.1, false);
        RuntimeException e = assertThrows(RuntimeException.class, () -> factory.load(TestModels.tinyModel(),
                new EngineFactory.LoadParams(0, -1, true).withAdapters(List.of(bertLora))));
        assertTrue(e.getMessage().contains("arch"), e.getMessage());
        e = assertThrows(RuntimeException.class, () -> factory.load(TestModels.tinyModel(),
                new EngineFactory.LoadParams(0, -1, true).withAdapters(List.of(dir.resolve("none.gguf")))));
        assertTrue(e.getMessage().contains("not found"), e.getMessage());
    }
}
