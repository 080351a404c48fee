package dev.gantry.runtime.engine.llama;

import dev.gantry.llama.LlamaCpp;
import dev.gantry.llama.LlamaModelHandle;
import dev.gantry.llama.ModelParams;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineFactory;
import java.nio.file.Path;
import java.util.Optional;

/** Loads models through llama.cpp. {@link LlamaCpp#initialize} must have succeeded first. */
public final class LlamaCppEngineFactory implements EngineFactory {
    private final boolean gpuAvailable;

    /**
     * Loads llama.cpp (from {@code userDir} when given, else the bundled CPU libraries unpacked under
     * {@code cacheDir}) and returns a factory; throws with every path tried when the libraries cannot be loaded.
     */
    public static LlamaCppEngineFactory initialize(Optional<Path> userDir, Path cacheDir) {
        LlamaCpp.initialize(userDir, cacheDir);
        return new LlamaCppEngineFactory();
    }

    /** Where llama.cpp was loaded from and which devices it sees, for the start-up log. */
    public String describe() {
        LlamaCpp llama = LlamaCpp.get();
        return "llama.cpp from " + llama.libraryDir() + " (" + llama.source() + "), devices "
                + llama.devices().stream().map(d -> d.name() + " " + d.description()).toList()
                + (gpuAvailable ? "" : "; no GPU backend: models run on the CPU");
    }

    public LlamaCppEngineFactory() {
        LlamaCpp llama = LlamaCpp.get();
        this.gpuAvailable = llama.supportsGpuOffload() && llama.devices().stream().anyMatch(d -> d.isGpu());
    }

    @Override
    public Engine load(Path modelFile, LoadParams params) {
        ModelParams mp = ModelParams.defaults();
        int gpuLayers = gpuAvailable ? params.gpuLayers() : 0;
        mp = new ModelParams(gpuLayers,
                params.mainGpu() >= 0 ? ModelParams.SplitMode.NONE : ModelParams.SplitMode.LAYER,
                Math.max(0, params.mainGpu()), null, params.useMmap(), false, false);
        LlamaModelHandle model = LlamaModelHandle.load(modelFile, mp);
        return new LlamaCppEngine(model, gpuLayers != 0 && gpuAvailable);
    }
}
