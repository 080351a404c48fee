package dev.gantry.runtime.engine.llama;

import dev.gantry.llama.BackendDevice;
import dev.gantry.llama.BufferReport;
import dev.gantry.llama.LlamaCpp;
import dev.gantry.llama.LlamaModelHandle;
import dev.gantry.llama.ModelParams;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.AllocationRecord;
import dev.gantry.runtime.engine.EngineFactory;
import java.nio.file.Path;
import java.util.List;
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

    /** Whether llama.cpp has a GPU backend with at least one device. */
    public boolean hasGpu() {
        return gpuAvailable;
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

    /** llama.cpp's own account: the buffer sizes it logs for each CUDA device (see {@link BufferReport}). */
    @Override
    public AllocationRecord recordAllocations() {
        BufferReport report = LlamaCpp.recordBuffers();
        return new AllocationRecord() {
            @Override
            public long gpuBytes(int gpu) {
                return report.cudaBytes(gpu);
            }

            @Override
            public void close() {
                report.close();
            }
        };
    }

    @Override
    public void quantize(Path input, Path output, int fileType, int threads) {
        try {
            dev.gantry.llama.LlamaQuantizer.quantize(input, output, fileType, threads);
        } catch (dev.gantry.llama.LlamaException e) { // llama.cpp refused the file (an architecture it lacks...)
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    @Override
    public Engine load(Path modelFile, LoadParams params) {
        int gpuLayers = gpuAvailable ? params.gpuLayers() : 0;
        ModelParams.SplitMode split = switch (params.split()) {
            case NONE -> ModelParams.SplitMode.NONE;
            case LAYER -> ModelParams.SplitMode.LAYER;
            case ROW -> ModelParams.SplitMode.ROW;
            case TENSOR -> ModelParams.SplitMode.TENSOR;
        };
        ModelParams mp = new ModelParams(gpuLayers, split, Math.max(0, params.mainGpu()), params.llamaTensorSplit(),
                params.useMmap(), false, false);
        LlamaModelHandle model = LlamaModelHandle.load(modelFile, mp);
        try {
            for (Path adapter : params.adapters()) {
                model.addAdapter(adapter, 1f); // Ollama applies its adapters at scale 1
            }
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        List<String> devices;
        if (gpuLayers == 0) {
            devices = List.of("CPU");
        } else {
            List<BackendDevice> gpus = LlamaCpp.get().devices().stream().filter(BackendDevice::isGpu).toList();
            List<Integer> used = params.gpus().isEmpty()
                    ? (params.mainGpu() >= 0 ? List.of(params.mainGpu()) : java.util.stream.IntStream.range(0, gpus.size()).boxed().toList())
                    : params.gpus();
            devices = used.stream().filter(i -> i < gpus.size()).map(i -> gpus.get(i).name()).toList();
        }
        return new LlamaCppEngine(model, gpuLayers != 0 && gpuAvailable, devices);
    }
}
