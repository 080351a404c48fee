package dev.gantry.models;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Where the tests find their data: the tiny model on the classpath, the rest in the shared folder. */
public final class TestData {

    private TestData() {
    }

    /** {@code gantry.shared} as surefire sets it, else {@code /work/shared}. */
    public static Path sharedDir() {
        String prop = System.getProperty("gantry.shared");
        return prop == null || prop.isBlank() ? Path.of("/work/shared") : Path.of(prop);
    }

    /** The tiny model: the classpath resource when it is a plain file, else the shared copy. */
    public static Path tinyModel() {
        URL url = TestData.class.getClassLoader().getResource("gantry/models/stories260K.gguf");
        if (url != null && "file".equals(url.getProtocol())) {
            try {
                return Path.of(url.toURI());
            } catch (URISyntaxException e) {
                throw new IllegalStateException(e);
            }
        }
        return shared("models/stories260K.gguf");
    }

    /** A vocabulary-only GGUF from llama.cpp's test data, e.g. {@code llama-bpe}; skips the test if absent. */
    public static Path vocab(String name) {
        return shared("llama-data/vocab/ggml-vocab-" + name + ".gguf");
    }

    private static Path shared(String relative) {
        Path p = sharedDir().resolve(relative);
        assumeTrue(Files.isRegularFile(p), () -> "test data not found: " + p);
        return p;
    }
}
