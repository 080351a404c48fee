package dev.gantry.models.gguf;

import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * One tensor's entry in a GGUF header: where its data lies, never the data itself.
 *
 * <p>Immutable and thread-safe.
 *
 * @param name       tensor name, e.g. {@code blk.0.attn_q.weight}
 * @param dimensions sizes of each dimension, innermost first as ggml writes them ({@code ne[0]} first)
 * @param typeId     the ggml type id as written; see {@link #type()}
 * @param offset     byte offset of the data, relative to the start of the file's data section
 */
public record GgufTensorInfo(String name, List<Long> dimensions, int typeId, long offset) {

    public GgufTensorInfo {
        Objects.requireNonNull(name, "name");
        dimensions = List.copyOf(dimensions);
        for (long d : dimensions) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor " + name + " has a negative dimension " + d);
            }
        }
        if (offset < 0) {
            throw new IllegalArgumentException("tensor " + name + " has a negative offset " + offset);
        }
    }

    /** The element type, or empty for a type id this build does not know. */
    public Optional<GgmlType> type() {
        return GgmlType.fromId(typeId);
    }

    /**
     * The number of elements, the product of the dimensions (1 for a scalar with no dimensions).
     *
     * @throws ArithmeticException if it does not fit a long; the reader rejects such files
     */
    public long elementCount() {
        long n = 1;
        for (long d : dimensions) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Bytes of data this tensor takes, or empty when its type is unknown. */
    public OptionalLong byteSize() {
        Optional<GgmlType> t = type();
        return t.isPresent() ? OptionalLong.of(t.get().byteSize(elementCount())) : OptionalLong.empty();
    }
}
