package dev.gantry.llama;

/**
 * What {@code llama_context_params} Gantry sets; everything else keeps llama.cpp's default.
 *
 * @param contextSize       total KV cells (all sequences together with a unified cache)
 * @param batchSize         most tokens one {@code llama_decode} call may take
 * @param ubatchSize        physical micro-batch
 * @param maxSequences      parallel sequences
 * @param threads           CPU threads for generation
 * @param threadsBatch      CPU threads for prompt processing
 * @param flashAttention    -1 auto, 0 off, 1 on
 * @param kvType            ggml type of the K and V cache (1 = F16, 8 = Q8_0, 2 = Q4_0)
 * @param kvUnified         one KV buffer shared by all sequences (needed to admit by free cells and to share prefixes)
 * @param embeddings        extract embeddings
 * @param offloadKqv        keep the KV cache on the GPU
 * @param poolingType       {@code enum llama_pooling_type}: -1 the model's own, 0 none (per-token embeddings), 1 mean,
 *                          2 CLS, 3 last, 4 rank
 */
public record ContextParams(int contextSize, int batchSize, int ubatchSize, int maxSequences, int threads,
                            int threadsBatch, int flashAttention, int kvType, boolean kvUnified, boolean embeddings,
                            boolean offloadKqv, int poolingType) {
    /** With the model's own pooling type. */
    public ContextParams(int contextSize, int batchSize, int ubatchSize, int maxSequences, int threads,
                         int threadsBatch, int flashAttention, int kvType, boolean kvUnified, boolean embeddings,
                         boolean offloadKqv) {
        this(contextSize, batchSize, ubatchSize, maxSequences, threads, threadsBatch, flashAttention, kvType,
                kvUnified, embeddings, offloadKqv, -1);
    }

    public ContextParams {
        require(contextSize > 0, "contextSize must be > 0");
        require(batchSize > 0, "batchSize must be > 0");
        require(ubatchSize > 0 && ubatchSize <= batchSize, "ubatchSize must be in 1..batchSize");
        require(maxSequences > 0, "maxSequences must be > 0");
        require(threads > 0 && threadsBatch > 0, "threads must be > 0");
        require(flashAttention >= -1 && flashAttention <= 1, "flashAttention must be -1, 0 or 1");
        require(poolingType >= -1 && poolingType <= 4, "poolingType must be in -1..4");
    }

    public static ContextParams of(int contextSize, int maxSequences, int threads) {
        int batch = Math.min(2048, Math.max(contextSize, 64));
        return new ContextParams(contextSize, batch, Math.min(512, batch), maxSequences, threads, threads, -1, 1,
                true, false, true);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
