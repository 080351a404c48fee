package dev.gantry.runtime.runner;

/**
 * How a runner batches.
 *
 * @param contextPerSequence most tokens (prompt and generated) one sequence may hold, Ollama's {@code num_ctx}
 * @param kvCells            KV cells shared by all sequences
 * @param maxSequences       sequences decoded together
 * @param maxQueue           requests waiting for a sequence slot before new ones get 503 ({@code OLLAMA_MAX_QUEUE})
 * @param promptBudget       prompt tokens per decode step, so long prompts do not stall generating sequences
 * @param threads            CPU threads for the engine
 * @param backendSampling    sample on the device where the engine supports it
 * @param kvUnified          one KV buffer shared by all sequences (admission by free cells, preemption when it runs
 *                           out), or one stream per sequence (llama.cpp then attends only over a sequence's own
 *                           cells, which measured four times faster at 8 sequences on the CPU)
 * @param itlTargetNanos     the inter-token latency the runner's adaptive batching keeps steps under, by lowering
 *                           its prompt budget and then its active sequences ({@code GANTRY_ITL_TARGET_MS}); 0 keeps
 *                           both at their maxima
 */
public record RunnerConfig(int contextPerSequence, int kvCells, int maxSequences, int maxQueue, int promptBudget,
                           int threads, boolean backendSampling, boolean kvUnified, long itlTargetNanos) {
    /** With a unified KV cache and fixed batching. */
    public RunnerConfig(int contextPerSequence, int kvCells, int maxSequences, int maxQueue, int promptBudget,
                        int threads, boolean backendSampling) {
        this(contextPerSequence, kvCells, maxSequences, maxQueue, promptBudget, threads, backendSampling, true);
    }

    /** With fixed batching: the prompt budget and the sequences stay at their maxima. */
    public RunnerConfig(int contextPerSequence, int kvCells, int maxSequences, int maxQueue, int promptBudget,
                        int threads, boolean backendSampling, boolean kvUnified) {
        this(contextPerSequence, kvCells, maxSequences, maxQueue, promptBudget, threads, backendSampling, kvUnified, 0);
    }

    public RunnerConfig {
        require(contextPerSequence >= 8, "context per sequence must be >= 8, was " + contextPerSequence);
        require(kvCells >= contextPerSequence, "kv cells (" + kvCells + ") must hold one full sequence ("
                + contextPerSequence + ")");
        require(maxSequences >= 1, "max sequences must be >= 1");
        require(maxQueue >= 0, "max queue must be >= 0");
        require(promptBudget >= 1, "prompt budget must be >= 1");
        require(threads >= 1, "threads must be >= 1");
        require(itlTargetNanos >= 0, "the ITL target must be >= 0");
        require(kvUnified || (long) contextPerSequence * maxSequences <= kvCells,
                "a split KV cache needs contextPerSequence x maxSequences cells");
    }

    /** Tokens one step may carry: one per generating sequence plus the prompt budget. */
    public int batchCapacity() {
        return maxSequences + promptBudget;
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
