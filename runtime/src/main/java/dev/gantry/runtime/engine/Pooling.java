package dev.gantry.runtime.engine;

/**
 * How the per-token embeddings of an input become one vector ({@code enum llama_pooling_type}). A generative model
 * names none in its GGUF; it gets {@link #MEAN}, as Ollama embeds with such models.
 */
public enum Pooling {
    /** The average over every token of the input. */
    MEAN,
    /** The first token's embedding (BERT's [CLS]). */
    CLS,
    /** The last token's embedding. */
    LAST,
    /**
     * A reranker's classifier head over the input (its first token, for a BERT): scores, not an embedding. Pooled by
     * llama.cpp itself, so served for encoders only, whose inputs go into one decode whole.
     */
    RANK;

    /** From llama.cpp's enum value; -1 (unspecified) and 0 (none) mean {@link #MEAN}. */
    public static Pooling fromLlama(int type) {
        return switch (type) {
            case 2 -> CLS;
            case 3 -> LAST;
            case 4 -> RANK;
            default -> MEAN;
        };
    }
}
