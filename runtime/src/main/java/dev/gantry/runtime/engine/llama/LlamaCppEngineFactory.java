package dev.gantry.runtime.engine.llama;

import dev.gantry.llama.LlamaCpp;
import dev.gantry.llama.LlamaModelHandle;
import dev.gantry.llama.ModelParams;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineFactory;
import java.nio.file.Path;

/** Loads models through llama.cpp. {@link LlamaCpp#initialize} must have succeeded first. */
public final class LlamaCppEngineFactory implements EngineFactory {
    private final boolean gpuAvailable;

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
