package dev.gantry.runtime.engine.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gantry.llama.LlamaModelHandle;
import dev.gantry.llama.ModelParams;
import dev.gantry.models.gguf.GgufArray;
import dev.gantry.models.gguf.GgufValueType;
import dev.gantry.runtime.testing.TestModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Control tokens render as nothing in the output, except Command's markers: on a copy of the tiny model whose
 * vocabulary has two more control tokens in place of ordinary ones, {@code <|START_THINKING|>} and another.
 */
class ControlMarkerRenderingTest {
    @Test
    void commandsMarkersRenderAndOtherControlTokensDoNot(@TempDir Path dir) throws Exception {
        TestModels.llama();
        Path source = TestModels.tinyModel();
        Path file = dir.resolve("markers.gguf");
        dev.gantry.runtime.testing.GgufCopy.copy(source, file, (meta, w) -> {
            GgufArray tokenArray = (GgufArray) meta.get("tokenizer.ggml.tokens").orElseThrow();
            GgufArray typeArray = (GgufArray) meta.get("tokenizer.ggml.token_type").orElseThrow();
            List<Object> tokens = new ArrayList<>(tokenArray.elements());
            List<Object> types = new ArrayList<>(typeArray.elements());
            tokens.set(400, "<|START_THINKING|>");
            types.set(400, 3); // CONTROL
            tokens.set(401, "<|SOMETHING_ELSE|>");
            types.set(401, 3);
            w.put("tokenizer.ggml.tokens", GgufValueType.ARRAY, new GgufArray(GgufValueType.STRING, tokens.size(),
                    tokens));
            w.put("tokenizer.ggml.token_type", GgufValueType.ARRAY, new GgufArray(typeArray.elementType(),
                    types.size(), types));
        });
        try (LlamaModelHandle m = LlamaModelHandle.load(file, new ModelParams(0, ModelParams.SplitMode.NONE, 0, null,
                true, false, false))) {
            assertArrayEquals("<|START_THINKING|>".getBytes(StandardCharsets.UTF_8), m.piece(400));
            assertEquals(0, m.piece(401).length, "other control tokens render as nothing");
            assertEquals("<|SOMETHING_ELSE|>", m.tokenText(401));
        }
    }
}
