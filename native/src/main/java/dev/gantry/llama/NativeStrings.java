package dev.gantry.llama;

import java.lang.foreign.MemorySegment;

/** Small helpers for C strings and for turning a failed downcall into a {@link LlamaException}. */
final class NativeStrings {
    private NativeStrings() {}

    /** Reads a NUL-terminated UTF-8 string; NULL reads as the empty string. */
    static String read(MemorySegment cString) {
        if (cString == null || cString.equals(MemorySegment.NULL)) {
            return "";
        }
        return cString.reinterpret(Long.MAX_VALUE).getString(0);
    }

    static RuntimeException rethrow(String function, Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new LlamaException(function + " failed: " + t, t);
    }
}
