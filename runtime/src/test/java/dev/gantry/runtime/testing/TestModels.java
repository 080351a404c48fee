package dev.gantry.runtime.testing;

import dev.gantry.llama.LlamaCpp;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The real tiny model and llama.cpp, for tests that run them on the CPU. The model is {@code models/stories260K.gguf}
 * under the folder of the system property {@code gantry.shared} (set by the build), else {@code /work/shared}.
 */
public final class TestModels {
    public static final String TINY_FILE = "stories260K.gguf";
    /** The name the registry serves {@link #TINY_FILE} under. */
    public static final String TINY_NAME = "stories260k";

    private TestModels() {}

    /** Loads llama.cpp once (from {@code $GANTRY_LLAMA_LIB} when set), caching its libraries under target/. */
    public static LlamaCpp llama() {
        return LlamaCpp.initialize(Optional.ofNullable(System.getenv("GANTRY_LLAMA_LIB")).map(Path::of),
                Path.of("target", "gantry-cache").toAbsolutePath());
    }

    /** The tiny model file; fails with a clear message when it is missing. */
    public static Path tinyModel() {
        for (Path shared : sharedFolders()) {
            Path model = shared.resolve("models").resolve(TINY_FILE);
            if (Files.isRegularFile(model)) {
                return model;
            }
        }
        throw new IllegalStateException("the tiny model " + TINY_FILE + " is missing from " + sharedFolders()
                + " (set -Dgantry.shared to the shared folder)");
    }

    /** Copies the tiny model into {@code folder} (a models folder for a registry); returns the copy. */
    public static Path copyTinyModel(Path folder) {
        try {
            Files.createDirectories(folder);
            return Files.copy(tinyModel(), folder.resolve(TINY_FILE));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The shared test-data folder (the first of the candidates that exists). */
    public static Path sharedDir() {
        return sharedFolders().stream().filter(java.nio.file.Files::isDirectory).findFirst()
                .orElseThrow(() -> new IllegalStateException("no shared test-data folder in " + sharedFolders()));
    }

    private static java.util.List<Path> sharedFolders() {
        String property = System.getProperty("gantry.shared");
        return property == null ? java.util.List.of(Path.of("/work/shared"))
                : java.util.List.of(Path.of(property), Path.of("/work/shared"));
    }
}
