package dev.gantry.runtime.runner;

import dev.gantry.runtime.engine.SamplingParams;
import java.util.Objects;

/**
 * One generation as the runner sees it: prompt tokens (already rendered and tokenized by the caller) and limits.
 *
 * @param maxTokens tokens to generate at most; zero or negative means until end of generation or the context
 *                  limit (Ollama's {@code num_predict} semantics)
 */
public record GenerationRequest(int[] prompt, SamplingParams sampling, int maxTokens) {
    public GenerationRequest {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(sampling, "sampling");
        if (prompt.length == 0) {
            throw new IllegalArgumentException("a generation needs at least one prompt token");
        }
    }
}
