package dev.gantry.runtime.engine;

import java.nio.file.Path;

/** Loads a model file into an {@link Engine}. Called on a loader thread, never on an event loop. */
public interface EngineFactory {
    Engine load(Path modelFile, LoadParams params);

    /**
     * How to place a model.
     *
     * @param gpuLayers layers on the GPU: negative all, 0 none (Ollama's {@code num_gpu})
     * @param mainGpu   the GPU when the model goes on one (Ollama's {@code main_gpu}), or -1
     */
    record LoadParams(int gpuLayers, int mainGpu, boolean useMmap) {
        public static LoadParams defaults() {
            return new LoadParams(-1, -1, true);
        }
    }
}
