package dev.gantry.runtime.route;

/**
 * A replica's load when a request arrives, as its runner last reported it.
 *
 * <p>Immutable and thread-safe.
 *
 * @param id                    the replica's id (stable while it is loaded; prefix affinity remembers it)
 * @param outstandingTokens     tokens still to process or generate for the requests it holds, queued included
 * @param queued                requests waiting for a slot
 * @param active                requests decoding
 * @param maxSequences          its slots
 * @param kvUsedFraction        KV cache cells in use, 0 to 1
 * @param gpuMemoryUsedFraction its GPUs' memory in use (the fullest GPU), 0 to 1; NaN when unknown
 * @param weight                relative speed measured at load time (tokens per second of a short decode);
 *                              1 for every replica when nothing was measured
 */
public record ReplicaLoad(int id, long outstandingTokens, int queued, int active, int maxSequences,
                          double kvUsedFraction, double gpuMemoryUsedFraction, double weight) {

    public ReplicaLoad {
        if (outstandingTokens < 0 || queued < 0 || active < 0 || maxSequences < 0) {
            throw new IllegalArgumentException("replica " + id + ": negative load");
        }
    }

    /** An idle replica of weight 1 with {@code maxSequences} slots and nothing known about its memory. */
    public static ReplicaLoad idle(int id, int maxSequences) {
        return new ReplicaLoad(id, 0, 0, 0, maxSequences, 0, Double.NaN, 1);
    }
}
