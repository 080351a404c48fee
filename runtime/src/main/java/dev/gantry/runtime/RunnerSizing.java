package dev.gantry.runtime;

import dev.gantry.llama.LlamaCpp;
import dev.gantry.runtime.engine.EngineInfo;
import dev.gantry.runtime.runner.RunnerConfig;

/** Derives a runner's batching from the model and the process defaults. Pure. */
public final class RunnerSizing {
    /** llama.cpp's LLAMA_MAX_SEQ at v0.5.0. */
    static final int MAX_SEQUENCES = 256;
    /** Auto-sized runners with a unified cache plan for sequences of about this many cells on average. */
    static final int CELLS_PER_SEQUENCE = 256;
    /** The most KV cells an auto-sized runner allocates. */
    static final int MAX_AUTO_CELLS = 131_072;
    static final int MAX_AUTO_SEQUENCES = 64;

    private RunnerSizing() {}

    /** Tokens one sequence may hold: the configured context, at most the model's training context. */
    public static int contextPerSequence(int trainContext, RuntimeConfig config) {
        int train = trainContext > 0 ? trainContext : config.contextLength();
        return Math.max(8, Math.min(config.contextLength(), train));
    }

    /** The sequences a runner decodes together, before placement may lower them to fit memory. */
    public static int sequences(int trainContext, RuntimeConfig config) {
        return plan(new EngineInfo(0, trainContext, 0, 0, "cpu", java.util.List.of(), 0, false), config, 1)
                .maxSequences();
    }

    public static RunnerConfig plan(EngineInfo model, RuntimeConfig config, int availableProcessors) {
        int perSequence = contextPerSequence(model.contextTrainLength(), config);
        int parallel;
        int cells;
        if (config.kvUnified()) {
            // One shared buffer: sequences are admitted while free cells last, so more of them fit than
            // full-length slots would allow.
            cells = config.kvCells() > 0 ? Math.max(config.kvCells(), perSequence)
                    : Math.max(perSequence, Math.min(perSequence * 8, MAX_AUTO_CELLS));
            parallel = config.numParallel() > 0 ? Math.min(config.numParallel(), MAX_SEQUENCES)
                    : Math.clamp(cells / CELLS_PER_SEQUENCE, 1, MAX_AUTO_SEQUENCES);
        } else {
            // A stream per sequence, each a full context, as Ollama sizes num_ctx x num_parallel.
            int fit = config.kvCells() > 0 ? config.kvCells() / perSequence : MAX_AUTO_CELLS / perSequence;
            parallel = config.numParallel() > 0 ? Math.min(config.numParallel(), MAX_SEQUENCES)
                    : Math.clamp(fit, 1, MAX_AUTO_SEQUENCES);
            cells = perSequence * parallel;
        }
        boolean onGpu = !"cpu".equals(model.backend());
        int threads = config.threads() > 0 ? config.threads()
                : onGpu ? Math.min(4, LlamaCpp.defaultThreads(availableProcessors))
                : LlamaCpp.defaultThreads(availableProcessors);
        boolean backendSampling = switch (config.backendSampling()) {
            case ON -> true;
            case OFF -> false;
            case AUTO -> onGpu && model.backendSamplingSupported();
        };
        // A step never carries more prompt tokens than the cache holds (num_batch 2147483647 had overflowed the
        // batch's capacity into a negative size).
        int promptBudget = Math.min(config.promptBudget(), cells);
        return new RunnerConfig(perSequence, cells, parallel, config.maxQueue(), promptBudget, threads,
                backendSampling, config.kvUnified(), config.itlTarget().toNanos());
    }
}
