package dev.gantry.server.ops;

/** Where the server is in its life, as {@code /health} reports it. */
public enum ServingState {
    /** Bound, not yet serving. */
    STARTING,
    /** Taking requests. */
    SERVING,
    /** A SIGTERM arrived: new requests get 503 while those in flight finish. */
    DRAINING,
    /** Drained; about to exit. */
    STOPPED;

    public String wire() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
