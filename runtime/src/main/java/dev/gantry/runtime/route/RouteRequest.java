package dev.gantry.runtime.route;

/**
 * What the router knows of a request.
 *
 * <p>Immutable and thread-safe.
 *
 * @param prefixHash {@link Router#prefixHash(int[], int)} of its prompt; 0 for none
 */
public record RouteRequest(long prefixHash) {

    /** A request without a prefix to keep together. */
    public static final RouteRequest NONE = new RouteRequest(0);
}
