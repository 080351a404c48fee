package dev.gantry.runtime.runner;

/**
 * Receives a generation's tokens. Called on the runner thread, in order: every method must return at once (hand
 * work to another thread), or it stalls every sequence of the runner.
 */
public interface GenerationObserver {
    /** A generated token (never an end-of-generation token). */
    void onToken(int token);

    /**
     * The log probabilities of the token that {@link #onToken} gets next, when the request asked for them and the
     * engine can tell. The default ignores them.
     */
    default void onLogprobs(dev.gantry.runtime.sampling.TokenLogprobs logprobs) {}

    /**
     * The log probability of prompt token {@code position} (from 1) given the tokens before it, for a request that
     * asked for its prompt's ({@link GenerationRequest#promptLogprobs}). Positions come in order, each once, all
     * before the first {@link #onToken}. The default ignores them.
     */
    default void onPromptLogprobs(int position, dev.gantry.runtime.sampling.TokenLogprobs logprobs) {}

    /** The generation ended; no call follows. */
    void onFinish(FinishReason reason, GenerationMetrics metrics);

    /** The generation failed; no call follows. */
    void onError(Throwable error);

    /**
     * Whether the consumer can take another token now. A runner skips a sequence whose consumer is not ready (its
     * client reads slowly), so a slow client slows only its own request.
     */
    default boolean isReady() {
        return true;
    }
}
