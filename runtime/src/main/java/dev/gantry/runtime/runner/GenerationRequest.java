package dev.gantry.runtime.runner;

import dev.gantry.runtime.engine.SamplingParams;
import java.util.Objects;

/**
 * One generation as the runner sees it: prompt tokens (already rendered and tokenized by the caller) and limits.
 *
 * @param maxTokens    tokens to generate at most; zero or negative means until end of generation or the context
 *                     limit (Ollama's {@code num_predict} semantics)
 * @param contextLimit tokens (prompt and generated) this sequence may hold, Ollama's {@code num_ctx} for one
 *                     request; zero or negative means the runner's context per sequence, and a larger value is
 *                     capped at it
 * @param logprobs     negative for none; else each generated token's log probability is reported with this many
 *                     likeliest alternatives (at most {@link dev.gantry.runtime.sampling.TokenLogprobs#MAX_TOP})
 * @param shiftKeep    {@link #NO_SHIFT}: the generation ends when its context is full; else the context shifts as in
 *                     Ollama: the tokens after the first {@code shiftKeep} (negative: the prompt's; at least one)
 *                     lose half of the room after them, and generation goes on
 * @param promptLogprobs whether each prompt token after the first gets its log probability given the tokens before
 *                     it ({@link GenerationObserver#onPromptLogprobs}), with {@code logprobs} alternatives (at least
 *                     0): a prompt scored, as OpenAI's {@code echo} with {@code logprobs} does
 * @param promptOnly   the generation ends (at its length) once its prompt is decoded, before any token is sampled:
 *                     OpenAI's {@code max_tokens} 0 with {@code echo}
 */
public record GenerationRequest(int[] prompt, SamplingParams sampling, int maxTokens, int contextLimit,
                                int logprobs, int shiftKeep, boolean promptLogprobs, boolean promptOnly) {
    /** {@link #shiftKeep}: no context shift. */
    public static final int NO_SHIFT = Integer.MIN_VALUE;

    /** Within the runner's context per sequence. */
    public GenerationRequest(int[] prompt, SamplingParams sampling, int maxTokens) {
        this(prompt, sampling, maxTokens, 0);
    }

    /** Without log probabilities. */
    public GenerationRequest(int[] prompt, SamplingParams sampling, int maxTokens, int contextLimit) {
        this(prompt, sampling, maxTokens, contextLimit, -1, NO_SHIFT, false, false);
    }

    /**
     * This request with each token's log probability and its {@code top} likeliest alternatives
     * ({@link GenerationObserver#onLogprobs}); negative for none.
     */
    public GenerationRequest withLogprobs(int top) {
        return new GenerationRequest(prompt, sampling, maxTokens, contextLimit, top, shiftKeep, promptLogprobs,
                promptOnly);
    }

    /** This request with Ollama's context shift, keeping the first {@code keep} tokens ({@link #shiftKeep}). */
    public GenerationRequest withShift(int keep) {
        return new GenerationRequest(prompt, sampling, maxTokens, contextLimit, logprobs, keep, promptLogprobs,
                promptOnly);
    }

    /**
     * This request with its prompt scored ({@link #promptLogprobs}) as well as its generated tokens, each with
     * {@link #logprobs}' alternatives (none where it asked for no log probabilities).
     */
    public GenerationRequest withPromptLogprobs() {
        return new GenerationRequest(prompt, sampling, maxTokens, contextLimit, Math.max(0, logprobs), shiftKeep,
                true, promptOnly);
    }

    /** This request ending once its prompt is decoded, nothing generated ({@link #promptOnly}). */
    public GenerationRequest promptOnlyRequest() {
        return new GenerationRequest(prompt, sampling, maxTokens, contextLimit, logprobs, shiftKeep, promptLogprobs,
                true);
    }

    public GenerationRequest {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(sampling, "sampling");
        if (prompt.length == 0) {
            throw new IllegalArgumentException("a generation needs at least one prompt token");
        }
    }

    /** The context this sequence may fill in a runner whose sequences hold {@code perSequence} tokens. */
    public int context(int perSequence) {
        return contextLimit > 0 ? Math.min(contextLimit, perSequence) : perSequence;
    }
}
