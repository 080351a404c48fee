package dev.gantry.runtime;

/** No model of that name is in the store; the message is Ollama's, which clients match on. */
public final class ModelNotFoundException extends RuntimeException {
    public ModelNotFoundException(String name) {
        super("model \"" + name + "\" not found, try pulling it first");
    }
}
