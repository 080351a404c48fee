package dev.gantry.llama;

import java.util.Objects;

/**
 * What {@code llama_model_params} Gantry sets; everything else keeps llama.cpp's default.
 *
 * @param gpuLayers    layers to offload; negative means all (llama.cpp's default), 0 keeps the model on the CPU
 * @param splitMode    how to split across GPUs
 * @param mainGpu      the GPU for the whole model when {@code splitMode} is NONE
 * @param tensorSplit  proportion per device, or null for llama.cpp's choice
 * @param useMmap      map the file rather than read it
 * @param vocabOnly    load only the vocabulary
 * @param checkTensors validate tensor data while loading
 */
public record ModelParams(int gpuLayers, SplitMode splitMode, int mainGpu, float[] tensorSplit, boolean useMmap,
                          boolean vocabOnly, boolean checkTensors) {
    public ModelParams {
        Objects.requireNonNull(splitMode, "splitMode");
        if (mainGpu < 0) {
            throw new IllegalArgumentException("mainGpu must be >= 0, was " + mainGpu);
        }
        tensorSplit = tensorSplit == null ? null : tensorSplit.clone();
    }

    public static ModelParams defaults() {
        return new ModelParams(-1, SplitMode.LAYER, 0, null, true, false, false);
    }

    public ModelParams withGpuLayers(int n) {
        return new ModelParams(n, splitMode, mainGpu, tensorSplit, useMmap, vocabOnly, checkTensors);
    }

    public ModelParams withVocabOnly(boolean v) {
        return new ModelParams(gpuLayers, splitMode, mainGpu, tensorSplit, useMmap, v, checkTensors);
    }

    /** {@code enum llama_split_mode}. */
    public enum SplitMode {
        NONE, LAYER, ROW, TENSOR
    }
}
