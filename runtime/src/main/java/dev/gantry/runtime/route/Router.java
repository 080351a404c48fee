package dev.gantry.runtime.route;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Sends each request for a model to one of its replicas. The choice is {@link RoutePolicy#decide}; this class
 * keeps what it needs between requests: a request counter (round-robin and ties) and which replica last
 * served each prompt prefix, in an LRU table of bounded size.
 *
 * <p>Thread-safe: request threads call {@link #route} concurrently. The counter is atomic and the prefix table
 * is guarded by its own lock, held only for a lookup or an insertion. Two simultaneous first requests with
 * the same new prefix may land on different replicas; the later one's replica is remembered.
 */
public final class Router {

    /** Prefixes remembered by default. */
    public static final int DEFAULT_PREFIX_CAPACITY = 4096;
    /** Tokens a prefix hash covers by default. */
    public static final int PREFIX_TOKENS = 64;

    private final RouteStrategy strategy;
    private final double memoryCeiling;
    private final AtomicLong counter = new AtomicLong();
    private final Map<Long, Integer> prefixes;

    /** A router with the default memory guard and prefix table. */
    public Router(RouteStrategy strategy) {
        this(strategy, RoutePolicy.DEFAULT_MEMORY_CEILING, DEFAULT_PREFIX_CAPACITY);
    }

    /**
     * @param memoryCeiling  the memory guard, a fraction of GPU memory
     * @param prefixCapacity prefixes remembered; the least recently used is forgotten first
     */
    public Router(RouteStrategy strategy, double memoryCeiling, int prefixCapacity) {
        this.strategy = Objects.requireNonNull(strategy, "strategy");
        if (!(memoryCeiling > 0)) {
            throw new IllegalArgumentException("memory ceiling " + memoryCeiling + " must be positive");
        }
        if (prefixCapacity < 1) {
            throw new IllegalArgumentException("prefix capacity " + prefixCapacity + " must be at least 1");
        }
        this.memoryCeiling = memoryCeiling;
        this.prefixes = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Long, Integer> eldest) {
                return size() > prefixCapacity;
            }
        };
    }

    public RouteStrategy strategy() {
        return strategy;
    }

    /** The index in {@code replicas} of the replica {@code req} should go to. */
    public int choose(List<ReplicaLoad> replicas, RouteRequest req) {
        return route(replicas, req).index();
    }

    /** {@link #choose}, with the reason and the memory flag; remembers the prefix's replica. */
    public RouteDecision route(List<ReplicaLoad> replicas, RouteRequest req) {
        long hash = req.prefixHash();
        OptionalInt holder = OptionalInt.empty();
        if (hash != 0) {
            synchronized (prefixes) {
                Integer id = prefixes.get(hash);
                holder = id == null ? OptionalInt.empty() : OptionalInt.of(id);
            }
        }
        RouteDecision d = RoutePolicy.decide(replicas, strategy, counter.getAndIncrement(), holder, memoryCeiling);
        if (hash != 0) {
            synchronized (prefixes) {
                prefixes.put(hash, d.replicaId());
            }
        }
        return d;
    }

    /** Forgets the prefixes a replica held, when it is unloaded. */
    public void forgetReplica(int replicaId) {
        synchronized (prefixes) {
            prefixes.values().removeIf(id -> id == replicaId);
        }
    }

    /** Prefixes remembered now. */
    public int rememberedPrefixes() {
        synchronized (prefixes) {
            return prefixes.size();
        }
    }

    /** {@link #prefixHash(int[], int, int)} over the first {@value #PREFIX_TOKENS} tokens. */
    public static long prefixHash(int[] tokens, int length) {
        return prefixHash(tokens, length, PREFIX_TOKENS);
    }

    /**
     * A hash of a prompt's prefix, for affinity: the first {@code maxTokens} tokens, or all but the last when
     * the prompt is shorter (the last token is the one being asked about; what precedes it is what a replica
     * may have cached). 0, meaning no prefix, for prompts of one token or none; never 0 otherwise.
     *
     * <p>A short conversation hashes over all its tokens, so its next turn, once longer than {@code maxTokens},
     * hashes differently: affinity starts to hold once prompts are at least that long.
     *
     * @param length tokens of {@code tokens} in use
     */
    public static long prefixHash(int[] tokens, int length, int maxTokens) {
        if (length < 0 || length > tokens.length || maxTokens < 1) {
            throw new IllegalArgumentException("length " + length + " of " + tokens.length + " tokens, max " + maxTokens);
        }
        int n = Math.min(maxTokens, length - 1);
        if (n <= 0) {
            return 0;
        }
        long h = 0xcbf29ce484222325L; // FNV-1a over the tokens' values, then a final mix for the high bits
        for (int i = 0; i < n; i++) {
            h = (h ^ tokens[i]) * 0x100000001b3L;
        }
        h ^= n;
        h = (h ^ (h >>> 33)) * 0xff51afd7ed558ccdL;
        h = (h ^ (h >>> 33)) * 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h == 0 ? 1 : h;
    }
}
