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

    /**
     * Quantizes in a child JVM ({@link dev.gantry.llama.LlamaQuantizer#main}) with this process's llama.cpp
     * libraries: llama.cpp's call cannot be stopped once started, a process can (an interrupt of the calling thread
     * ends it, and its partial output is deleted), and an abort of llama.cpp on a malformed file ends that process
     * instead of the server.
     */
    @Override
    public void quantize(Path input, Path output, int fileType, int threads) throws InterruptedException {
        Path log;
        try {
            log = java.nio.file.Files.createTempFile("gantry-quantize", ".log");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Process p = null;
        try {
            p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                    dev.gantry.llama.LlamaQuantizer.class.getName(),
                    dev.gantry.llama.LlamaCpp.get().libraryDir().toString(), input.toString(), output.toString(),
                    Integer.toString(fileType), Integer.toString(threads))
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            int status = p.waitFor();
            if (status == dev.gantry.llama.LlamaQuantizer.EXIT_REFUSED) { // an architecture llama.cpp lacks...
                throw new IllegalArgumentException(reason(log).orElse("llama.cpp refused the file"));
            }
            if (status != 0) {
                throw new IllegalStateException("the quantizing process failed (exit status " + status + "): "
                        + tail(log));
            }
        } catch (java.io.IOException e) {
            throw new IllegalStateException("could not start the quantizing process: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            p.destroyForcibly();
            p.onExit().join();
            deleteQuietly(output);
            throw e;
        } finally {
            deleteQuietly(log);
        }
    }

    /** The child's {@link dev.gantry.llama.LlamaQuantizer#REFUSED} line. */
    private static java.util.Optional<String> reason(Path log) {
        try (java.util.stream.Stream<String> lines = java.nio.file.Files.lines(log)) {
            return lines.filter(l -> l.startsWith(dev.gantry.llama.LlamaQuantizer.REFUSED))
                    .map(l -> l.substring(dev.gantry.llama.LlamaQuantizer.REFUSED.length())).reduce((a, b) -> b);
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return java.util.Optional.empty();
        }
    }

    /** The child's last lines of output, for an error message. */
    private static String tail(Path log) {
        try {
            java.util.List<String> lines = java.nio.file.Files.readAllLines(log);
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
        } catch (java.io.IOException | java.io.UncheckedIOException e) {
            return "(no output)";
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            java.nio.file.Files.deleteIfExists(p);
        } catch (java.io.IOException e) {
            // a temporary file left behind
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
        // llama.cpp offloads the output layer too only past the repeating layers' count (-1: everything)
        boolean whollyOnGpu = gpuAvailable && (gpuLayers < 0 || gpuLayers > model.layerCount());
        return new LlamaCppEngine(model, gpuLayers != 0 && gpuAvailable, whollyOnGpu, devices);
    }
}
