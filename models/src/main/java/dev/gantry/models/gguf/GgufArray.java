package dev.gantry.models.gguf;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A GGUF array value. Arrays up to the reader's cap are materialised ({@link #values()} present); longer
 * ones keep only their element type and length, because a tokenizer vocabulary alone is 128k strings and
 * nothing in the serving path needs it as Java objects.
 *
 * <p>Immutable and thread-safe. Elements use the Java types listed on {@link GgufValueType}; nested arrays
 * are {@code GgufArray} again.
 *
 * @param elementType the type of every element
 * @param length      the element count written in the file, materialised or not
 * @param elements    the elements, or {@code null} when not materialised; use {@link #values()}
 */
public record GgufArray(GgufValueType elementType, long length, List<Object> elements) {

    public GgufArray {
        Objects.requireNonNull(elementType, "elementType");
        if (length < 0) {
            throw new IllegalArgumentException("negative array length " + length);
        }
        if (elements != null) {
            if (elements.size() != length) {
                throw new IllegalArgumentException(
                        "array length " + length + " but " + elements.size() + " elements");
            }
            elements = List.copyOf(elements);
        }
    }

    /** An array whose elements were skipped. */
    public static GgufArray notMaterialised(GgufValueType elementType, long length) {
        return new GgufArray(elementType, length, null);
    }

    /** Whether the elements were read into memory. */
    public boolean isMaterialised() {
        return elements != null;
    }

    /** The elements, or empty when the array was longer than the reader's cap. */
    public Optional<List<Object>> values() {
        return Optional.ofNullable(elements);
    }

    @Override
    public String toString() {
        return "GgufArray[" + elementType + " x " + length + (elements == null ? ", not materialised]" : "]");
    }
}
