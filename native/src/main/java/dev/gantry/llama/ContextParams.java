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
 */
public record ContextParams(int contextSize, int batchSize, int ubatchSize, int maxSequences, int threads,
                            int threadsBatch, int flashAttention, int kvType, boolean kvUnified, boolean embeddings,
                            boolean offloadKqv) {
    public ContextParams {
        require(contextSize > 0, "contextSize must be > 0");
        require(batchSize > 0, "batchSize must be > 0");
        require(ubatchSize > 0 && ubatchSize <= batchSize, "ubatchSize must be in 1..batchSize");
        require(maxSequences > 0, "maxSequences must be > 0");
        require(threads > 0 && threadsBatch > 0, "threads must be > 0");
        require(flashAttention >= -1 && flashAttention <= 1, "flashAttention must be -1, 0 or 1");
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
