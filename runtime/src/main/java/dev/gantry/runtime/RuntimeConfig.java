package dev.gantry.runtime;

import java.time.Duration;
import java.util.Objects;

/**
 * Process-wide defaults for loading and batching models; per-model values are derived by {@link RunnerSizing}.
 *
 * @param numParallel     sequences per runner; 0 sizes it from the KV cache ({@code OLLAMA_NUM_PARALLEL})
 * @param contextLength   tokens per sequence ({@code OLLAMA_CONTEXT_LENGTH}), clamped to the model's training context
 * @param kvCells         KV cells per runner; 0 means eight sequences' worth
 * @param maxQueue        requests waiting per runner before 503 ({@code OLLAMA_MAX_QUEUE})
 * @param promptBudget    prompt tokens per decode step
 * @param threads         llama.cpp CPU threads; 0 sizes them from the cores this process may use
 * @param backendSampling sample on the GPU when the model is there
 * @param keepAlive       how long an idle model stays loaded; negative forever ({@code OLLAMA_KEEP_ALIVE})
 * @param gpuLayers       layers to offload by default; negative all
 * @param kvUnified       one KV buffer shared by all sequences of a runner ({@code GANTRY_KV_UNIFIED}); the
 *                        default gives each sequence its own stream
 * @param itlTarget       the inter-token latency adaptive batching aims under ({@code GANTRY_ITL_TARGET_MS});
 *                        zero keeps batching fixed
 * @param maxLoadedModels models kept in memory at once ({@code OLLAMA_MAX_LOADED_MODELS}); loading one more
 *                        first unloads the shortest keep-alive, then the least recently used; 0 means the default,
 *                        {@value #DEFAULT_MAX_LOADED_MODELS}
 */
public record RuntimeConfig(int numParallel, int contextLength, int kvCells, int maxQueue, int promptBudget,
                            int threads, BackendSampling backendSampling, Duration keepAlive, int gpuLayers,
                            boolean kvUnified, Duration itlTarget, int maxLoadedModels) {
    /** Ollama's default number of models in memory (per GPU; Gantry's models span every GPU). */
    public static final int DEFAULT_MAX_LOADED_MODELS = 3;
    /** The smallest context a sequence may have, in tokens. */
    public static final int MIN_CONTEXT = 8;

    /** With the default number of loaded models. */
    public RuntimeConfig(int numParallel, int contextLength, int kvCells, int maxQueue, int promptBudget, int threads,
                         BackendSampling backendSampling, Duration keepAlive, int gpuLayers, boolean kvUnified,
                         Duration itlTarget) {
        this(numParallel, contextLength, kvCells, maxQueue, promptBudget, threads, backendSampling, keepAlive,
                gpuLayers, kvUnified, itlTarget, 0);
    }

    /** With the default ITL target of 50 ms. */
    public RuntimeConfig(int numParallel, int contextLength, int kvCells, int maxQueue, int promptBudget, int threads,
                         BackendSampling backendSampling, Duration keepAlive, int gpuLayers, boolean kvUnified) {
        this(numParallel, contextLength, kvCells, maxQueue, promptBudget, threads, backendSampling, keepAlive,
                gpuLayers, kvUnified, Duration.ofMillis(50));
    }

    public RuntimeConfig(int numParallel, int contextLength, int kvCells, int maxQueue, int promptBudget, int threads,
                         BackendSampling backendSampling, Duration keepAlive, int gpuLayers) {
        this(numParallel, contextLength, kvCells, maxQueue, promptBudget, threads, backendSampling, keepAlive,
                gpuLayers, false);
    }

    public RuntimeConfig {
        Objects.requireNonNull(backendSampling, "backendSampling");
        Objects.requireNonNull(keepAlive, "keepAlive");
        require(numParallel >= 0, "num parallel must be >= 0");
        require(contextLength >= MIN_CONTEXT, "context length must be >= " + MIN_CONTEXT);
        require(kvCells >= 0, "kv cells must be >= 0");
        require(maxQueue >= 0, "max queue must be >= 0");
        require(promptBudget >= 1, "prompt budget must be >= 1");
        require(threads >= 0, "threads must be >= 0");
        Objects.requireNonNull(itlTarget, "itlTarget");
        require(!itlTarget.isNegative(), "the ITL target must be >= 0");
        require(maxLoadedModels >= 0, "max loaded models must be >= 0");
    }

    public static RuntimeConfig defaults() {
        // sampling on the host by default: on an H200, Gantry's Java sampler made a step of 25 sequences of an 8B
        // model 10 ms where llama.cpp's device chains made it 20, and one sequence's token 3.3 ms against 4.1
        return new RuntimeConfig(0, 4096, 0, 512, 512, 0, BackendSampling.OFF, Duration.ofMinutes(5), -1);
    }

    public RuntimeConfig withNumParallel(int n) {
        return new RuntimeConfig(n, contextLength, kvCells, maxQueue, promptBudget, threads, backendSampling,
                keepAlive, gpuLayers, kvUnified, itlTarget, maxLoadedModels);
    }

    public RuntimeConfig withMaxQueue(int n) {
        return new RuntimeConfig(numParallel, contextLength, kvCells, n, promptBudget, threads, backendSampling,
                keepAlive, gpuLayers, kvUnified, itlTarget, maxLoadedModels);
    }

    public RuntimeConfig withContextLength(int n) {
        return new RuntimeConfig(numParallel, n, kvCells, maxQueue, promptBudget, threads, backendSampling,
                keepAlive, gpuLayers, kvUnified, itlTarget, maxLoadedModels);
    }

    public RuntimeConfig withBackendSampling(BackendSampling b) {
        return new RuntimeConfig(numParallel, contextLength, kvCells, maxQueue, promptBudget, threads, b, keepAlive,
                gpuLayers, kvUnified, itlTarget, maxLoadedModels);
    }

    public RuntimeConfig withKeepAlive(Duration d) {
        return new RuntimeConfig(numParallel, contextLength, kvCells, maxQueue, promptBudget, threads, backendSampling,
                d, gpuLayers, kvUnified, itlTarget, maxLoadedModels);
    }

    public RuntimeConfig withKvUnified(boolean unified) {
        return new RuntimeConfig(numParallel, contextLength, kvCells, maxQueue, promptBudget, threads, backendSampling,
                keepAlive, gpuLayers, unified, itlTarget, maxLoadedModels);
    }

    public RuntimeConfig withItlTarget(Duration target) {
        return new RuntimeConfig(numParallel, contextLength, kvCells, maxQueue, promptBudget, threads, backendSampling,
                keepAlive, gpuLayers, kvUnified, target, maxLoadedModels);
    }

    public RuntimeConfig withMaxLoadedModels(int n) {
        return new RuntimeConfig(numParallel, contextLength, kvCells, maxQueue, promptBudget, threads, backendSampling,
                keepAlive, gpuLayers, kvUnified, itlTarget, n);
    }

    public RuntimeConfig withPromptBudget(int n) {
        return new RuntimeConfig(numParallel, contextLength, kvCells, maxQueue, n, threads, backendSampling,
                keepAlive, gpuLayers, kvUnified, itlTarget, maxLoadedModels);
    }

    public RuntimeConfig withGpuLayers(int n) {
        return new RuntimeConfig(numParallel, contextLength, kvCells, maxQueue, promptBudget, threads, backendSampling,
                keepAlive, n, kvUnified, itlTarget, maxLoadedModels);
    }

    /** The effective limit on models in memory. */
    public int loadedModelsLimit() {
        return maxLoadedModels == 0 ? DEFAULT_MAX_LOADED_MODELS : maxLoadedModels;
    }

    /** Where tokens are sampled. */
    public enum BackendSampling {
        /** On the GPU when the model is there, on the host otherwise. */
        AUTO,
        /** On the device with llama.cpp's sampler chains, where the model's backend supports them. */
        ON,
        /** On the host: Gantry's Java sampler, a step's sequences on several cores (the default). */
        OFF
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
