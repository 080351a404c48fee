package dev.gantry.llama;

/** A llama.cpp call failed; the message names the function, its arguments and the return code. */
public class LlamaException extends RuntimeException {
    public LlamaException(String message) {
        super(message);
    }

    public LlamaException(String message, Throwable cause) {
        super(message, cause);
    }
}
