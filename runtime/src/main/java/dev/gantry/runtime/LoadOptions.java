package dev.gantry.runtime;

import java.util.Map;

/**
 * The options that decide how a model is loaded, Ollama's {@code num_ctx}, {@code num_gpu}, {@code main_gpu} and
 * {@code num_batch}: a request whose values differ from the loaded model's reloads it, as in Ollama; sampling
 * options never do. A null field is unset and takes the value under it: the request's, then the model's
 * {@code PARAMETER} layer, then the server's configuration. Immutable.
 *
 * @param numCtx   tokens per sequence; below {@link RuntimeConfig#MIN_CONTEXT} it is raised to that
 * @param numGpu   layers on the GPU; negative for all, 0 for none
 * @param mainGpu  the GPU a single-GPU model goes on; negative for the planner's choice
 * @param numBatch prompt tokens per decode step
 */
public record LoadOptions(Integer numCtx, Integer numGpu, Integer mainGpu, Integer numBatch) {
    /** Nothing set. */
    public static final LoadOptions UNSET = new LoadOptions(null, null, null, null);

    public LoadOptions {
        if (numCtx != null && numCtx < RuntimeConfig.MIN_CONTEXT) {
            numCtx = RuntimeConfig.MIN_CONTEXT; // as Ollama raises a tiny num_ctx to its minimum
        }
        if (numBatch != null && numBatch < 1) {
            throw new IllegalArgumentException("num_batch must be at least 1");
        }
    }

    /** These values where set, {@code under}'s elsewhere. */
    public LoadOptions over(LoadOptions under) {
        return new LoadOptions(numCtx != null ? numCtx : under.numCtx, numGpu != null ? numGpu : under.numGpu,
                mainGpu != null ? mainGpu : under.mainGpu, numBatch != null ? numBatch : under.numBatch);
    }

    /** The server's defaults: every field set. */
    public static LoadOptions defaults(RuntimeConfig config) {
        return new LoadOptions(config.contextLength(), config.gpuLayers(), -1, config.promptBudget());
    }

    /** The load options among a model's {@code PARAMETER} defaults; integral numbers only, others are ignored. */
    public static LoadOptions fromParameters(Map<String, Object> params) {
        return new LoadOptions(integer(params.get("num_ctx")), integer(params.get("num_gpu")),
                integer(params.get("main_gpu")), positive(params.get("num_batch")));
    }

    private static Integer integer(Object v) {
        if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())
                && Math.abs(n.doubleValue()) <= Integer.MAX_VALUE) {
            return n.intValue();
        }
        return null;
    }

    private static Integer positive(Object v) {
        Integer i = integer(v);
        return i != null && i >= 1 ? i : null;
    }
}
