package dev.gantry.runtime.engine;

/**
 * Ollama's sampling options for one request, with Ollama's defaults ({@code api.DefaultOptions}).
 *
 * @param seed    negative draws a random seed
 * @param grammar      a llama.cpp grammar (GBNF, root rule {@code root}) every generated token must fit, or null;
 *                     a sequence with one is sampled on the host (device sampling chains cannot take a grammar)
 * @param grammarStart where the grammar starts: at the first token, or after a reasoning block (Ollama's chat
 *                     lets a thinking model reason freely and holds only the answer to the format)
 */
public record SamplingParams(float temperature, int topK, float topP, float minP, float typicalP, long seed,
                             float repeatPenalty, int repeatLastN, float presencePenalty, float frequencyPenalty,
                             boolean ignoreEos, String grammar, GrammarStart grammarStart) {
    public static final SamplingParams DEFAULTS = new SamplingParams(0.8f, 40, 0.9f, 0.0f, 1.0f, -1, 1.0f, 64, 0f, 0f);

    /** Where a grammar starts to hold the generated tokens. */
    public enum GrammarStart {
        /** At the first generated token. */
        AT_ONCE,
        /**
         * After the reasoning block: the model may open one ({@code <think>}, after leading whitespace), and the
         * grammar holds what follows its {@code </think>}; an answer that opens none is held from its first token.
         */
        AFTER_THINKING,
        /** After the reasoning block the prompt already opened: from the {@code </think>} on. */
        AFTER_OPENED_THINKING,
        /** gpt-oss (harmony): the final channel's message only, after its {@code <|message|>}. */
        AFTER_HARMONY_FINAL
    }

    /** A grammar from the first token. */
    public SamplingParams(float temperature, int topK, float topP, float minP, float typicalP, long seed,
                          float repeatPenalty, int repeatLastN, float presencePenalty, float frequencyPenalty,
                          boolean ignoreEos, String grammar) {
        this(temperature, topK, topP, minP, typicalP, seed, repeatPenalty, repeatLastN, presencePenalty,
                frequencyPenalty, ignoreEos, grammar, GrammarStart.AT_ONCE);
    }

    /** Without {@code ignoreEos} (llama-server's option that bans end-of-generation tokens). */
    public SamplingParams(float temperature, int topK, float topP, float minP, float typicalP, long seed,
                          float repeatPenalty, int repeatLastN, float presencePenalty, float frequencyPenalty) {
        this(temperature, topK, topP, minP, typicalP, seed, repeatPenalty, repeatLastN, presencePenalty,
                frequencyPenalty, false);
    }

    /** Without a grammar. */
    public SamplingParams(float temperature, int topK, float topP, float minP, float typicalP, long seed,
                          float repeatPenalty, int repeatLastN, float presencePenalty, float frequencyPenalty,
                          boolean ignoreEos) {
        this(temperature, topK, topP, minP, typicalP, seed, repeatPenalty, repeatLastN, presencePenalty,
                frequencyPenalty, ignoreEos, null);
    }

    public SamplingParams withIgnoreEos(boolean ignore) {
        return new SamplingParams(temperature, topK, topP, minP, typicalP, seed, repeatPenalty, repeatLastN,
                presencePenalty, frequencyPenalty, ignore, grammar, grammarStart);
    }

    /** With a GBNF grammar (null for none) from the first token. */
    public SamplingParams withGrammar(String gbnf) {
        return withGrammar(gbnf, GrammarStart.AT_ONCE);
    }

    /** With a GBNF grammar (null for none) that starts where {@code start} says. */
    public SamplingParams withGrammar(String gbnf, GrammarStart start) {
        return new SamplingParams(temperature, topK, topP, minP, typicalP, seed, repeatPenalty, repeatLastN,
                presencePenalty, frequencyPenalty, ignoreEos, gbnf, start);
    }

    /**
     * Whether end-of-generation tokens are banned: {@code ignore_eos}, unless a grammar is set, because a grammar
     * that is complete allows nothing but the end.
     */
    public boolean bansEndOfGeneration() {
        return ignoreEos && grammar == null;
    }

    public SamplingParams {
        check(Float.isFinite(temperature) && temperature >= 0, "temperature must be a finite number >= 0");
        check(topP >= 0 && topP <= 1, "top_p must be in [0, 1]");
        check(minP >= 0 && minP <= 1, "min_p must be in [0, 1]");
        check(typicalP >= 0 && typicalP <= 1, "typical_p must be in [0, 1]");
        check(Float.isFinite(repeatPenalty) && repeatPenalty >= 0, "repeat_penalty must be a finite number >= 0");
        check(repeatLastN >= -1, "repeat_last_n must be >= -1");
        check(Float.isFinite(presencePenalty) && Float.isFinite(frequencyPenalty), "penalties must be finite");
        check(grammar == null || !grammar.isBlank(), "a grammar must not be blank");
        java.util.Objects.requireNonNull(grammarStart, "grammarStart");
    }

    /** Greedy: always the most likely token. */
    public boolean greedy() {
        return temperature <= 0f;
    }

    /** Whether any repetition penalty is active (the penalty sampler is skipped otherwise: it scans the vocabulary). */
    public boolean penalized() {
        return repeatLastN != 0 && (repeatPenalty != 1.0f || presencePenalty != 0f || frequencyPenalty != 0f);
    }

    public static SamplingParams greedyDefaults() {
        return new SamplingParams(0f, 40, 0.9f, 0f, 1f, -1, 1f, 64, 0f, 0f);
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
