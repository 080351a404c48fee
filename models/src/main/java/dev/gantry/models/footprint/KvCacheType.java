package dev.gantry.models.footprint;

import java.util.Locale;

/**
 * The element types llama.cpp can store its KV cache in ({@code OLLAMA_KV_CACHE_TYPE}), with their storage
 * layout: quantised types store {@link #blockSize()} elements in {@link #bytesPerBlock()} bytes, as the
 * matching ggml block structs do (a Q8_0 block is an F16 scale and 32 bytes; Q4_0 an F16 scale and 16 bytes).
 *
 * <p>Immutable enum, thread-safe.
 */
public enum KvCacheType {
    F32(1, 4),
    F16(1, 2),
    BF16(1, 2),
    Q8_0(32, 34),
    Q4_0(32, 18);

    private final int blockSize;
    private final int bytesPerBlock;

    KvCacheType(int blockSize, int bytesPerBlock) {
        this.blockSize = blockSize;
        this.bytesPerBlock = bytesPerBlock;
    }

    /** Elements per block; 1 for the float types. */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes one block takes. */
    public int bytesPerBlock() {
        return bytesPerBlock;
    }

    /**
     * Bytes a row of {@code elements} takes, rounded up to whole blocks (ggml quantises whole rows; llama.cpp
     * refuses a quantised cache whose rows are not whole blocks, so rounding up only matters for estimates).
     */
    public long rowBytes(long elements) {
        if (elements < 0) {
            throw new IllegalArgumentException("negative element count " + elements);
        }
        long blocks = elements / blockSize + (elements % blockSize == 0 ? 0 : 1);
        return Math.multiplyExact(blocks, (long) bytesPerBlock);
    }

    /**
     * Parses Ollama's spelling ({@code f16}, {@code q8_0}, {@code q4_0}; any case). Blank means the default,
     * {@link #F16}, as in Ollama.
     *
     * @throws IllegalArgumentException naming the accepted values
     */
    public static KvCacheType parse(String s) {
        if (s == null || s.isBlank()) {
            return F16;
        }
        try {
            return valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown KV cache type \"" + s + "\": expected f16, q8_0, q4_0, bf16 or f32");
        }
    }
}
