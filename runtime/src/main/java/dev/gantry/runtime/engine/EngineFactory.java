package dev.gantry.runtime.engine;

import java.nio.file.Path;
import java.util.List;

/** Loads a model file into an {@link Engine}. Called on a loader thread, never on an event loop. */
public interface EngineFactory {
    Engine load(Path modelFile, LoadParams params);

    /**
     * Starts recording what the library allocates on each GPU, until closed: open it around {@link #load} and the
     * opening of the engine's session. One record at a time.
     */
    default AllocationRecord recordAllocations() {
        return AllocationRecord.NONE;
    }

    /**
     * Writes a copy of a GGUF model quantized to {@code fileType} (a {@code llama_ftype} number) with {@code threads}
     * CPU threads; synchronous. Throws {@link IllegalArgumentException} where the library refuses the file,
     * {@link UnsupportedOperationException} from engines that cannot quantize, and {@link InterruptedException} when
     * the calling thread is interrupted (the work stops, no output is left).
     */
    default void quantize(Path input, Path output, int fileType, int threads) throws InterruptedException {
        throw new UnsupportedOperationException("this engine cannot quantize models");
    }

    /** How a model is spread over the GPUs of one replica ({@code enum llama_split_mode}). */
    enum Split {
        /** The whole model on {@code mainGpu}. */
        NONE,
        /** Whole layers on each GPU, in {@code tensorSplit} proportions. */
        LAYER,
        /** Rows of each matrix across the GPUs. */
        ROW,
        /** llama.cpp's tensor parallelism. */
        TENSOR
    }

    /**
     * How to place a model.
     *
     * @param gpuLayers   layers on the GPU: negative all, 0 none (Ollama's {@code num_gpu})
     * @param mainGpu     the GPU when the model goes on one (Ollama's {@code main_gpu}), or -1 for llama.cpp's choice
     * @param split       how a multi-GPU replica is split
     * @param gpus        the GPUs (llama.cpp's GPU indices) of this replica; empty: every GPU llama.cpp sees
     * @param tensorSplit proportion per GPU index for LAYER, ROW and TENSOR (zero for GPUs outside the replica);
     *                    null for equal parts over {@code gpus}
     * @param adapters    LoRA adapter files (GGUF) every context of the model applies, at scale 1, in order
     */
    record LoadParams(int gpuLayers, int mainGpu, boolean useMmap, Split split, List<Integer> gpus,
                      float[] tensorSplit, List<Path> adapters) {
        public LoadParams {
            gpus = List.copyOf(gpus);
            tensorSplit = tensorSplit == null ? null : tensorSplit.clone();
            adapters = List.copyOf(adapters);
        }

        public LoadParams(int gpuLayers, int mainGpu, boolean useMmap, Split split, List<Integer> gpus,
                          float[] tensorSplit) {
            this(gpuLayers, mainGpu, useMmap, split, gpus, tensorSplit, List.of());
        }

        public LoadParams(int gpuLayers, int mainGpu, boolean useMmap) {
            this(gpuLayers, mainGpu, useMmap, mainGpu >= 0 ? Split.NONE : Split.LAYER, List.of(), null);
        }

        /** The same with these adapters. */
        public LoadParams withAdapters(List<Path> adapters) {
            return new LoadParams(gpuLayers, mainGpu, useMmap, split, gpus, tensorSplit, adapters);
        }

        public static LoadParams defaults() {
            return new LoadParams(-1, -1, true);
        }

        /** One replica on one GPU. */
        public static LoadParams onGpu(int gpuLayers, int gpu) {
            return new LoadParams(gpuLayers, gpu, true, Split.NONE, List.of(gpu), null);
        }

        /** One replica over several GPUs. */
        public static LoadParams acrossGpus(int gpuLayers, List<Integer> gpus, Split split, float[] tensorSplit) {
            return new LoadParams(gpuLayers, gpus.getFirst(), true, split, gpus, tensorSplit);
        }

        /** The {@code tensor_split} array llama.cpp takes: proportions indexed by GPU, zero outside the replica. */
        public float[] llamaTensorSplit() {
            if (tensorSplit != null) {
                return tensorSplit.clone();
            }
            if (gpus.size() <= 1) {
                return null;
            }
            int max = gpus.stream().mapToInt(Integer::intValue).max().orElse(0);
            float[] out = new float[max + 1];
            for (int g : gpus) {
                out[g] = 1f;
            }
            return out;
        }
    }
}
