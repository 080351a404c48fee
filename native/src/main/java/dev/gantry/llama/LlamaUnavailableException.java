package dev.gantry.llama;

/** llama.cpp's libraries could not be loaded; the message lists every place tried and why it failed. */
public final class LlamaUnavailableException extends RuntimeException {
    public LlamaUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
