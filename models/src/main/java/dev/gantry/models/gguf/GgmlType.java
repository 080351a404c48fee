package dev.gantry.models.gguf;

import java.util.Optional;

/**
 * ggml tensor element types, with the ids written in GGUF tensor infos (ggml.h {@code ggml_type}) and
 * their storage layout: quantised types store {@link #blockSize()} elements in {@link #bytesPerBlock()}
 * bytes. The sizes are those of the block structs in ggml-common.h; they are what memory estimates need.
 *
 * <p>Ids that ggml has retired (4, 5, 31 to 33, 36 to 38) are absent; {@link #fromId(int)} returns empty
 * for them and for ids newer than this table. Immutable enum, thread-safe.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    IQ2_XXS(16, 256, 66),
    IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98),
    IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18),
    IQ3_S(21, 256, 110),
    IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 56),
    BF16(30, 1, 2),
    TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66),
    MXFP4(39, 32, 17);

    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    private final int id;
    private final int blockSize;
    private final int bytesPerBlock;

    GgmlType(int id, int blockSize, int bytesPerBlock) {
        this.id = id;
        this.blockSize = blockSize;
        this.bytesPerBlock = bytesPerBlock;
    }

    /** The id written in GGUF tensor infos. */
    public int id() {
        return id;
    }

    /** Elements per block; 1 for the plain float and integer types. */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes one block takes. */
    public int bytesPerBlock() {
        return bytesPerBlock;
    }

    /** Whether this is a block-quantised type. */
    public boolean isQuantized() {
        return blockSize > 1;
    }

    /** Average bytes per element, e.g. 0.5625 for Q4_0; for estimates only, use {@link #byteSize(long)} for sizes. */
    public double bytesPerElement() {
        return (double) bytesPerBlock / blockSize;
    }

    /**
     * Bytes that {@code elements} elements take, rounded up to whole blocks.
     *
     * @throws ArithmeticException if the size does not fit a long
     */
    public long byteSize(long elements) {
        if (elements < 0) {
            throw new IllegalArgumentException("negative element count " + elements);
        }
        long blocks = elements / blockSize + (elements % blockSize == 0 ? 0 : 1);
        return Math.multiplyExact(blocks, (long) bytesPerBlock);
    }

    /** The type with this id, or empty for an unknown or retired id. */
    public static Optional<GgmlType> fromId(int id) {
        return id >= 0 && id < BY_ID.length ? Optional.ofNullable(BY_ID[id]) : Optional.empty();
    }
}
