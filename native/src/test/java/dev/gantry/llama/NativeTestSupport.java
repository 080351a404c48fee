package dev.gantry.llama;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** Loads llama.cpp once for the native tests and finds the tiny model in ../shared. */
final class NativeTestSupport {
    private NativeTestSupport() {}

    static LlamaCpp llama() {
        return LlamaCpp.initialize(Optional.ofNullable(System.getenv("GANTRY_LLAMA_LIB")).map(Path::of),
                Path.of("target", "gantry-cache").toAbsolutePath());
    }

    static Path tinyModel() {
        Path shared = Path.of(System.getProperty("gantry.shared", "../../shared"));
        Path model = shared.resolve("models/stories260K.gguf");
        if (!Files.isRegularFile(model)) {
            throw new IllegalStateException("the tiny model is missing at " + model.toAbsolutePath()
                    + " (set -Dgantry.shared to the shared folder)");
        }
        return model;
    }

    static ModelParams cpu() {
        return ModelParams.defaults().withGpuLayers(0);
    }
}
