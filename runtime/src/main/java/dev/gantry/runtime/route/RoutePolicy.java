package dev.gantry.runtime.route;

import dev.gantry.runtime.route.RouteDecision.Reason;
import java.util.List;
import java.util.OptionalInt;

/**
 * The routing choice as pure functions of the replicas' loads: no state, no clock. {@link Router} keeps the
 * state they take as arguments (the request counter, which replica holds a prefix).
 *
 * <p>The rules:
 * <ol>
 *   <li><b>Memory guard.</b> A replica whose GPU memory use is above the ceiling is skipped (unknown use is not).
 *       When all are above it, all stay candidates and the decision is flagged: a request is never refused
 *       here.</li>
 *   <li><b>Prefix affinity.</b> A request whose prompt prefix a candidate already holds goes there, unless that
 *       replica is much busier: its {@link #score} above {@value #BUSIER_FACTOR} times the least loaded
 *       candidate's plus {@value #BUSIER_SLACK} (the slack, a couple of short requests' worth, keeps a nearly idle
 *       pair from giving up affinity over a handful of tokens, yet sends a third request with the same system
 *       prompt to an idle replica rather than queue it: with 1024 tokens of slack, four clients sharing a prompt
 *       all ran on one of four H100s). The holder's runner keeps the prefix's cells parked, so reusing them saves
 *       that prefill, which beats a modestly shorter queue elsewhere.</li>
 *   <li><b>Strategy.</b> Least-loaded: the lowest score, ties broken in turn so idle replicas share the first
 *       requests. Round-robin: candidates in turn. Weighted: each candidate in proportion to its weight.</li>
 * </ol>
 *
 * <p>Stateless and thread-safe.
 */
public final class RoutePolicy {

    /** A decoding request's own cost, in tokens: a slot taken and a row in every step. */
    static final long ACTIVE_COST_TOKENS = 64;
    /**
     * A waiting request's cost, in tokens, once no slot is free for it: it waits for a slot, and its prefill is
     * still ahead. One that a free slot will take at the runner's next step costs what an active one does.
     */
    static final long QUEUED_COST_TOKENS = 256;
    /** Added when every slot is taken: a new request would wait in the queue. */
    static final long FULL_COST_TOKENS = 256;
    /**
     * {@code -Dgantry.route.waitingAsQueue=true} costs every waiting request as a queue, as before commit 405c78f:
     * kept for measuring the difference on a GPU host, not a setting to tune.
     */
    private static final boolean WAITING_AS_QUEUE = Boolean.getBoolean("gantry.route.waitingAsQueue");
    static final double BUSIER_FACTOR = 2.0;
    static final double BUSIER_SLACK = 256;
    /** The default memory guard: above 95% of a GPU's memory, allocations start to fail. */
    public static final double DEFAULT_MEMORY_CEILING = 0.95;

    private RoutePolicy() {
    }

    /**
     * A replica's load, in token-equivalents; lower is better. Work ahead of a new request, the outstanding
     * tokens plus a fixed cost per request (so request counts matter when token counts are unknown or equal)
     * and a penalty when no slot is free, scaled up by the KV cache in use (a fuller cache is closer to
     * refusing admission and to evicting cached prefixes; up to twice as costly) and divided by the replica's
     * weight relative to the mean (a card twice as fast drains its work twice as fast).
     *
     * @param meanWeight the mean {@link #weight} of the replicas compared
     */
    public static double score(ReplicaLoad r, double meanWeight) {
        // requests just submitted wait for the runner's next step, which admits as many as there are free slots:
        // those count as active already. Costing them as a queue (256 against 64) split a burst unevenly: after
        // one replica's requests all finished in one step, their clients' next requests went there until its
        // two or three new ones outweighed the other's eight active ones, and the rest went to the other (11
        // against 5 sequences in a step on two H200s, where a closed loop of 16 clients should keep 8 and 8)
        long free = r.maxSequences() > 0 ? Math.max(0, r.maxSequences() - r.active()) : 0;
        long admitted = WAITING_AS_QUEUE ? 0 : Math.min(r.queued(), free);
        double work = r.outstandingTokens() + ACTIVE_COST_TOKENS * (r.active() + admitted)
                + QUEUED_COST_TOKENS * (r.queued() - admitted)
                + (r.maxSequences() > 0 && r.active() >= r.maxSequences() ? FULL_COST_TOKENS : 0);
        double kv = Double.isFinite(r.kvUsedFraction()) ? Math.clamp(r.kvUsedFraction(), 0.0, 1.0) : 0;
        return work * (1 + kv) / (weight(r) / meanWeight);
    }

    /** The replica's weight, 1 when it is missing, zero, negative or not a number. */
    static double weight(ReplicaLoad r) {
        double w = r.weight();
        return Double.isFinite(w) && w > 0 ? w : 1;
    }

    /** Whether the replica is above the memory guard; unknown use is not. */
    static boolean overMemory(ReplicaLoad r, double ceiling) {
        return r.gpuMemoryUsedFraction() > ceiling; // NaN compares false
    }

    /**
     * Chooses a replica.
     *
     * @param replicas     the candidates, at least one
     * @param counter      a number that grows by one per request: rotation for round-robin and for ties
     * @param prefixHolder the id of the replica that last served the request's prefix, if any
     * @param memoryCeiling the memory guard, a fraction of GPU memory
     * @throws IllegalArgumentException when {@code replicas} is empty
     */
    public static RouteDecision decide(List<ReplicaLoad> replicas, RouteStrategy strategy, long counter,
                                       OptionalInt prefixHolder, double memoryCeiling) {
        int n = replicas.size();
        if (n == 0) {
            throw new IllegalArgumentException("no replicas to route to");
        }
        int[] candidates = new int[n];
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (!overMemory(replicas.get(i), memoryCeiling)) {
                candidates[m++] = i;
            }
        }
        boolean overMemory = m == 0;
        if (overMemory) {
            for (int i = 0; i < n; i++) {
                candidates[i] = i;
            }
            m = n;
        }
        if (n == 1) {
            return decision(replicas, 0, Reason.ONLY, overMemory);
        }
        double meanWeight = 0;
        for (int c = 0; c < m; c++) {
            meanWeight += weight(replicas.get(candidates[c]));
        }
        meanWeight /= m;
        double[] scores = new double[m];
        int start = Math.floorMod(counter, m);
        int least = start;
        for (int k = 0; k < m; k++) {
            int c = (start + k) % m;
            scores[c] = score(replicas.get(candidates[c]), meanWeight);
            if (scores[c] < scores[least]) {
                least = c;
            }
        }
        if (prefixHolder.isPresent()) {
            for (int c = 0; c < m; c++) {
                if (replicas.get(candidates[c]).id() == prefixHolder.getAsInt()
                        && scores[c] <= BUSIER_FACTOR * scores[least] + BUSIER_SLACK) {
                    return decision(replicas, candidates[c], Reason.PREFIX, overMemory);
                }
            }
        }
        int chosen = switch (strategy) {
            case LEAST_LOADED -> least;
            case ROUND_ROBIN -> start;
            case WEIGHTED -> {
                double[] w = new double[m];
                for (int c = 0; c < m; c++) {
                    w[c] = weight(replicas.get(candidates[c]));
                }
                yield weightedIndex(w, counter);
            }
        };
        return decision(replicas, candidates[chosen], Reason.STRATEGY, overMemory);
    }

    /**
     * The index that request number {@code counter} goes to, so that over many requests each index gets its
     * share of the weights. The request's point in [0, 1) is {@code counter} times the golden ratio's fraction,
     * modulo one: consecutive points spread evenly over the interval (a low-discrepancy sequence), so the
     * shares hold over short runs too, with no state besides the counter.
     */
    static int weightedIndex(double[] weights, long counter) {
        double total = 0;
        for (double w : weights) {
            total += w;
        }
        // counter x 2^64 / golden ratio, modulo 2^64 (Fibonacci hashing): the fraction to 53 bits, at any counter
        double x = ((counter * 0x9E3779B97F4A7C15L) >>> 11) * 0x1.0p-53 * total;
        double cumulative = 0;
        for (int i = 0; i < weights.length; i++) {
            cumulative += weights[i];
            if (x < cumulative) {
                return i;
            }
        }
        return weights.length - 1;
    }

    private static RouteDecision decision(List<ReplicaLoad> replicas, int index, Reason reason, boolean overMemory) {
        return new RouteDecision(index, replicas.get(index).id(), reason, overMemory);
    }
}
