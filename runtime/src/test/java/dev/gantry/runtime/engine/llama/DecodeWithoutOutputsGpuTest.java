package dev.gantry.runtime.engine.llama;

import dev.gantry.llama.ContextParams;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.testing.TestModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/**
 * {@link DecodeWithoutOutputsTest} on a GPU, the model wholly on it and the KV cache too, flash attention as
 * llama.cpp's auto picks (a CUDA build in {@code GANTRY_LLAMA_LIB}, a GGUF in {@code GANTRY_TEST_MODEL}: run.sh's
 * gputests phase gives its synthetic 8B model).
 */
@EnabledIfEnvironmentVariable(named = "GANTRY_GPU_TESTS", matches = "1|true")
class DecodeWithoutOutputsGpuTest {
    @Test
    void aDecodeWithoutOutputsLeavesTheLastDecodesRowsInPlaceOnTheGpu() {
        String file = System.getenv("GANTRY_TEST_MODEL");
        Assumptions.assumeTrue(file != null, "GANTRY_TEST_MODEL names no model");
        TestModels.llama();
        try (Engine engine = new LlamaCppEngineFactory().load(Path.of(file),
                new EngineFactory.LoadParams(-1, -1, true))) {
            DecodeWithoutOutputsTest.check(engine, ((LlamaCppEngine) engine).model(),
                    new ContextParams(4 * 256, 256, 256, 4, 4, 4, -1, 1, false, false, true, -1));
        }
    }
}
