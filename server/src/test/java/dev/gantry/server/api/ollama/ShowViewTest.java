package dev.gantry.server.api.ollama;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.gantry.models.BuiltinModels;
import dev.gantry.models.LocalModel;
import dev.gantry.models.ModelName;
import dev.gantry.models.gguf.GgufArray;
import dev.gantry.models.gguf.GgufReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code model_info} as Ollama shows it, with and without {@code verbose}, on the tiny model's GGUF. */
class ShowViewTest {
    /** The model as the registry may hold it: its vocabulary past the reader's cap, so not in memory. */
    static LocalModel capped() throws Exception {
        Path gguf = BuiltinModels.extract(Path.of("target", "gantry-cache").toAbsolutePath());
        return new LocalModel(ModelName.parse("tiny"), gguf, Files.size(gguf), Instant.now(),
                new GgufReader(4).read(gguf));
    }

    @Test
    void longArraysAreShownEmptyUnlessVerbose() throws Exception {
        LocalModel m = capped();
        assertFalse(((GgufArray) m.metadata().metadata().get("tokenizer.ggml.tokens")).isMaterialised());
        Responses.Show plain = ShowView.of(m, false);
        assertEquals(List.of(), plain.modelInfo().get("tokenizer.ggml.tokens"));
        assertEquals(64, ((Number) plain.modelInfo().get("llama.embedding_length")).intValue());

        // verbose reads the header again without a cap: the whole vocabulary
        Responses.Show verbose = ShowView.of(m, true);
        List<?> tokens = (List<?>) verbose.modelInfo().get("tokenizer.ggml.tokens");
        assertEquals(512, tokens.size());
        assertEquals("<unk>", tokens.getFirst());
    }
}
