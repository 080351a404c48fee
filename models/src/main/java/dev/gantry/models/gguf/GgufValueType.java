package dev.gantry.models.gguf;

import java.util.Optional;

/**
 * The type tags of GGUF metadata values, with their ids as written in the file (gguf.h {@code gguf_type}).
 *
 * <p>Java types the reader uses for each: {@code UINT8, INT8, UINT16, INT16, INT32} as {@link Integer};
 * {@code UINT32, INT64, UINT64} as {@link Long} (a {@code UINT64} above {@link Long#MAX_VALUE} reads back
 * negative, use {@link Long#toUnsignedString(long)}); {@code FLOAT32} as {@link Float}; {@code FLOAT64} as
 * {@link Double}; {@code BOOL} as {@link Boolean}; {@code STRING} as {@link String}; {@code ARRAY} as
 * {@link GgufArray}. Immutable enum, thread-safe.
 */
public enum GgufValueType {
    UINT8(0, 1),
    INT8(1, 1),
    UINT16(2, 2),
    INT16(3, 2),
    UINT32(4, 4),
    INT32(5, 4),
    FLOAT32(6, 4),
    BOOL(7, 1),
    STRING(8, -1),
    ARRAY(9, -1),
    UINT64(10, 8),
    INT64(11, 8),
    FLOAT64(12, 8);

    private static final GgufValueType[] BY_ID = values();

    private final int id;
    private final int fixedSize;

    GgufValueType(int id, int fixedSize) {
        this.id = id;
        this.fixedSize = fixedSize;
    }

    /** The id written in the file. */
    public int id() {
        return id;
    }

    /** Bytes one value takes in the file, or -1 for the variable-length STRING and ARRAY. */
    public int fixedSize() {
        return fixedSize;
    }

    /**
     * The fewest bytes one value of this type can take. Used to reject element counts that could not fit
     * in the rest of the file before looping over them: a string is at least its 8-byte length, an array
     * at least its 4-byte element type and 8-byte count.
     */
    int minimumSize() {
        return switch (this) {
            case STRING -> 8;
            case ARRAY -> 12;
            default -> fixedSize;
        };
    }

    /** The type with this id, or empty for an id this reader does not know. */
    public static Optional<GgufValueType> fromId(int id) {
        // ids are dense 0..12 and the constants are declared in id order
        return id >= 0 && id < BY_ID.length ? Optional.of(BY_ID[id]) : Optional.empty();
    }
}
