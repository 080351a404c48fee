package dev.gantry.runtime.route;

/**
 * Where a request goes and why.
 *
 * <p>Immutable and thread-safe.
 *
 * @param index      the index of the chosen replica in the list the router was given
 * @param replicaId  its id
 * @param reason     why it was chosen
 * @param overMemory every replica was above the memory guard: it was chosen anyway (requests are never refused
 *                   here), and the caller may log or shed load
 */
public record RouteDecision(int index, int replicaId, Reason reason, boolean overMemory) {

    /** Why a replica was chosen. */
    public enum Reason {
        /** The only replica. */
        ONLY,
        /** It already holds the request's prompt prefix and is not much busier than the least loaded. */
        PREFIX,
        /** The strategy chose it. */
        STRATEGY
    }
}
