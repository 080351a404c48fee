package dev.gantry.runtime.runner;

/**
 * Counts and times of one generation, in nanoseconds, as Ollama reports them.
 *
 * @param queueNanos      from submission to a sequence slot
 * @param promptEvalNanos from the slot to the first generated token (prompt processing)
 * @param evalNanos       from the first generated token to the end
 * @param totalNanos      from submission to the end
 * @param cachedPromptTokens prompt tokens a finished generation's cells already held, so not decoded (counted in
 *                        {@code promptTokens} too, as Ollama counts them in {@code prompt_eval_count})
 */
public record GenerationMetrics(int promptTokens, int generatedTokens, long queueNanos, long promptEvalNanos,
                                long evalNanos, long totalNanos, int preemptions, int cachedPromptTokens) {
    /** Without cached prompt tokens. */
    public GenerationMetrics(int promptTokens, int generatedTokens, long queueNanos, long promptEvalNanos,
                             long evalNanos, long totalNanos, int preemptions) {
        this(promptTokens, generatedTokens, queueNanos, promptEvalNanos, evalNanos, totalNanos, preemptions, 0);
    }

    public GenerationMetrics withGeneratedTokens(int n) {
        return new GenerationMetrics(promptTokens, n, queueNanos, promptEvalNanos, evalNanos, totalNanos, preemptions,
                cachedPromptTokens);
    }
}
