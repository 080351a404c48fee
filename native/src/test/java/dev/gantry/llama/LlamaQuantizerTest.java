package dev.gantry.llama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code llama_model_quantize} through the binding, on the real tiny model (all F32). */
class LlamaQuantizerTest {
    @BeforeAll
    static void load() {
        NativeTestSupport.llama();
    }

    @Test
    void quantizesTheTinyModelToQ8ThatLoadsAndRuns(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("q8.gguf");
        LlamaQuantizer.quantize(NativeTestSupport.tinyModel(), out, 7, 2);
        assertTrue(Files.size(out) < Files.size(NativeTestSupport.tinyModel()),
                Files.size(out) + " bytes against " + Files.size(NativeTestSupport.tinyModel()));
        try (LlamaModelHandle m = LlamaModelHandle.load(out, NativeTestSupport.cpu())) {
            assertEquals("7", m.metadata("general.file_type").orElseThrow(), "Q8_0");
            assertEquals(512, m.vocabSize());
            int[] tokens = m.tokenize("Once upon a time", true, false);
            assertTrue(tokens.length > 1);
        }
    }

    @Test
    void aFileThatIsNoModelFailsWithLlamaCppsReason(@TempDir Path dir) throws Exception {
        Path bad = Files.writeString(dir.resolve("bad.gguf"), "not a gguf file");
        LlamaException e = assertThrows(LlamaException.class,
                () -> LlamaQuantizer.quantize(bad, dir.resolve("out.gguf"), 7, 1));
        assertTrue(e.getMessage().contains("llama_model_quantize"), e.getMessage());
        assertThrows(LlamaException.class,
                () -> LlamaQuantizer.quantize(dir.resolve("missing.gguf"), dir.resolve("o.gguf"), 7, 1));
    }
}
