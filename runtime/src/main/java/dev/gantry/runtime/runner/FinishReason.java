package dev.gantry.runtime.runner;

/** Why a generation ended; {@link #wire()} is Ollama's {@code done_reason}. */
public enum FinishReason {
    /** End-of-generation token or a stop string. */
    STOP("stop"),
    /** {@code num_predict} or the context limit. */
    LENGTH("length"),
    /** The client went away or the request was cancelled. */
    CANCELLED("cancelled");

    private final String wire;

    FinishReason(String wire) {
        this.wire = wire;
    }

    public String wire() {
        return wire;
    }
}
