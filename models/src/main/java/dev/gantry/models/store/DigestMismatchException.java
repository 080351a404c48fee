package dev.gantry.models.store;

import java.io.IOException;

/** Bytes that were to be a blob hash to something else; nothing was stored. */
public final class DigestMismatchException extends IOException {
    public DigestMismatchException(Digest expected, Digest actual) {
        super("digest mismatch, expected \"" + expected + "\", got \"" + actual + "\"");
    }
}
