package dev.gantry.runtime;

/** A model exists but could not be loaded (corrupt file, not enough memory); other models keep serving. */
public final class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
