package dev.gantry.runtime.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.gantry.runtime.route.RouteDecision.Reason;
import java.util.List;
import java.util.OptionalInt;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Routing choices case by case: loads in, a replica out. */
class RoutePolicyTest {

    private static final double NAN = Double.NaN;
    private static final double CEILING = RoutePolicy.DEFAULT_MEMORY_CEILING;

    /** A replica with 16 slots and weight 1. */
    static ReplicaLoad r(int id, long tokens, int queued, int active, double kv, double memory) {
        return new ReplicaLoad(id, tokens, queued, active, 16, kv, memory, 1);
    }

    static ReplicaLoad weighted(int id, long tokens, double weight) {
        return new ReplicaLoad(id, tokens, 0, 0, 16, 0, NAN, weight);
    }

    /**
     * One case.
     *
     * @param holder the replica id holding the request's prefix, -1 for none
     * @param chosen the id of the replica expected
     */
    record Case(String name, List<ReplicaLoad> replicas, RouteStrategy strategy, long counter, int holder,
                int chosen, Reason reason, boolean overMemory) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Case c(String name, List<ReplicaLoad> replicas, RouteStrategy strategy, long counter, int holder,
                  int chosen, Reason reason, boolean overMemory) {
        return new Case(name, replicas, strategy, counter, holder, chosen, reason, overMemory);
    }

    static Stream<Case> cases() {
        RouteStrategy least = RouteStrategy.LEAST_LOADED;
        RouteStrategy rr = RouteStrategy.ROUND_ROBIN;
        List<ReplicaLoad> idle = List.of(r(0, 0, 0, 0, 0, NAN), r(1, 0, 0, 0, 0, NAN), r(2, 0, 0, 0, 0, NAN));
        return Stream.of(
                c("one replica -> it, whatever its load", List.of(r(7, 9000, 40, 16, 1, 0.99)), least, 5, -1,
                        7, Reason.ONLY, true),
                c("idle replicas, request 0 -> the first", idle, least, 0, -1, 0, Reason.STRATEGY, false),
                c("idle replicas, request 4 -> ties taken in turn", idle, least, 4, -1, 1, Reason.STRATEGY, false),
                c("fewer outstanding tokens wins", List.of(r(0, 900, 0, 3, 0, NAN), r(1, 300, 0, 3, 0, NAN)), least, 0,
                        -1, 1, Reason.STRATEGY, false),
                c("same tokens, the longer queue loses", List.of(r(0, 500, 3, 16, 0, NAN), r(1, 500, 0, 16, 0, NAN)),
                        least, 0, -1, 1, Reason.STRATEGY, false),
                c("no outstanding tokens known, request counts decide",
                        List.of(r(0, 0, 0, 9, 0, NAN), r(1, 0, 0, 4, 0, NAN)), least, 0, -1, 1, Reason.STRATEGY, false),
                c("a full replica loses to one with a free slot at equal work",
                        List.of(new ReplicaLoad(0, 1000, 0, 8, 8, 0, NAN, 1), new ReplicaLoad(1, 1000, 0, 8, 16, 0, NAN, 1)),
                        least, 0, -1, 1, Reason.STRATEGY, false),
                c("a nearly full KV cache loses to a half-full one with the same work",
                        List.of(r(0, 1000, 0, 4, 0.95, NAN), r(1, 1000, 0, 4, 0.5, NAN)), least, 0, -1, 1,
                        Reason.STRATEGY, false),
                c("a card twice as fast takes more work before it loses",
                        List.of(weighted(0, 1000, 2), weighted(1, 600, 1)), least, 0, -1, 0, Reason.STRATEGY, false),
                c("the memory guard skips the least loaded replica above the ceiling",
                        List.of(r(0, 0, 0, 0, 0, 0.97), r(1, 5000, 2, 16, 0.5, 0.80)), least, 0, -1, 1,
                        Reason.STRATEGY, false),
                c("unknown memory use is not guarded", List.of(r(0, 0, 0, 0, 0, NAN), r(1, 500, 0, 2, 0, 0.5)), least,
                        0, -1, 0, Reason.STRATEGY, false),
                c("every replica above the guard -> the least loaded anyway, flagged",
                        List.of(r(0, 4000, 0, 8, 0, 0.99), r(1, 100, 0, 1, 0, 0.96)), least, 0, -1, 1, Reason.STRATEGY,
                        true),
                c("the prefix holder, a little busier -> the holder",
                        List.of(r(0, 100, 0, 1, 0, NAN), r(1, 400, 0, 2, 0, NAN)), least, 0, 1, 1, Reason.PREFIX, false),
                c("the prefix holder, much busier (over twice the least loaded plus slack) -> the least loaded",
                        List.of(r(0, 100, 0, 1, 0, NAN), r(1, 3000, 0, 8, 0, NAN)), least, 0, 1, 0, Reason.STRATEGY,
                        false),
                c("the prefix holder at exactly twice plus slack (2 x 1000 + 256) -> still the holder",
                        List.of(r(0, 936, 0, 1, 0, NAN), r(1, 2256, 0, 0, 0, NAN)), least, 0, 1, 1, Reason.PREFIX, false),
                c("the prefix holder one token beyond that -> the least loaded",
                        List.of(r(0, 936, 0, 1, 0, NAN), r(1, 2257, 0, 0, 0, NAN)), least, 0, 1, 0, Reason.STRATEGY,
                        false),
                c("the prefix holder above the memory guard -> the least loaded",
                        List.of(r(0, 100, 0, 1, 0, NAN), r(1, 100, 0, 1, 0, 0.99)), least, 1, 1, 0, Reason.STRATEGY, false),
                c("the prefix holder is gone -> the strategy", idle, least, 2, 9, 2, Reason.STRATEGY, false),
                c("prefix affinity holds under round-robin too", idle, rr, 0, 2, 2, Reason.PREFIX, false),
                c("round-robin, request 5 of three replicas -> the third", idle, rr, 5, -1, 2, Reason.STRATEGY, false),
                c("round-robin ignores load", List.of(r(0, 9000, 9, 16, 0.9, NAN), r(1, 0, 0, 0, 0, NAN)), rr, 0, -1, 0,
                        Reason.STRATEGY, false),
                c("round-robin skips a replica above the guard",
                        List.of(r(0, 0, 0, 0, 0, 0.99), r(1, 0, 0, 0, 0, NAN), r(2, 0, 0, 0, 0, NAN)), rr, 0, -1, 1,
                        Reason.STRATEGY, false),
                c("weighted, request 0 -> the first", List.of(weighted(0, 0, 3), weighted(1, 0, 1)),
                        RouteStrategy.WEIGHTED, 0, -1, 0, Reason.STRATEGY, false));
    }

    /**
     * A closed loop of 16 clients on two replicas of 16 slots, where replica 0's eight requests all finished in one
     * step: their eight next requests arrive before the runner's next step, and each arrival sees the ones before it
     * as waiting. They must all go to replica 0, back to eight and eight. Costing the waiting ones as a queue sent
     * the first three to replica 0 and then split the rest (11 against 5 sequences a step on two H200s).
     */
    @Test
    void aBurstOfRequestsRefillsTheReplicaThatEmptied() {
        int[] queued = new int[2];
        int[] active = {0, 8};
        for (int i = 0; i < 8; i++) {
            List<ReplicaLoad> loads = List.of(
                    new ReplicaLoad(0, 0, queued[0], active[0], 16, 0.01, NAN, 1),
                    new ReplicaLoad(1, 0, queued[1], active[1], 16, 0.01, NAN, 1));
            RouteDecision d = RoutePolicy.decide(loads, RouteStrategy.LEAST_LOADED, 100 + i, OptionalInt.empty(),
                    CEILING);
            queued[d.index()]++;
        }
        assertEquals(8, queued[0], "requests to the replica that emptied");
        assertEquals(0, queued[1]);
    }

    /** Waiting requests beyond the free slots still weigh as a queue: a full replica with a queue loses. */
    @Test
    void waitingBeyondTheFreeSlotsCostsMore() {
        ReplicaLoad fullWithQueue = new ReplicaLoad(0, 0, 2, 16, 16, 0, NAN, 1);
        ReplicaLoad admitsAll = new ReplicaLoad(1, 0, 2, 14, 16, 0, NAN, 1);
        assertEquals(64.0 * 16 + 256 * 2 + 256, RoutePolicy.score(fullWithQueue, 1));
        assertEquals(64.0 * 16, RoutePolicy.score(admitsAll, 1));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void decides(Case c) {
        RouteDecision d = RoutePolicy.decide(c.replicas(), c.strategy(), c.counter(),
                c.holder() < 0 ? OptionalInt.empty() : OptionalInt.of(c.holder()), CEILING);
        assertEquals(c.chosen(), d.replicaId(), d::toString);
        assertEquals(c.replicas().get(d.index()).id(), d.replicaId());
        assertEquals(c.reason(), d.reason(), d::toString);
        assertEquals(c.overMemory(), d.overMemory(), d::toString);
    }

    @Test
    void weightedSharesFollowTheWeightsOverShortRuns() {
        double[] weights = {3, 1, 2};
        for (int run : new int[] {60, 600, 6000}) {
            int[] counts = new int[3];
            for (long i = 0; i < run; i++) {
                counts[RoutePolicy.weightedIndex(weights, i)]++;
            }
            for (int k = 0; k < 3; k++) {
                double expected = run * weights[k] / 6;
                // a low-discrepancy sequence: off by a few requests at most, at any length
                assertEquals(expected, counts[k], 3, "run " + run + ", replica " + k);
            }
        }
    }

    @Test
    void slowerCardGetsLessUnderWeighted() {
        List<ReplicaLoad> replicas = List.of(weighted(0, 0, 341), weighted(1, 0, 170));
        int[] counts = new int[2];
        for (long i = 0; i < 3000; i++) {
            counts[RoutePolicy.decide(replicas, RouteStrategy.WEIGHTED, i, OptionalInt.empty(), CEILING).index()]++;
        }
        assertEquals(2.0, counts[0] / (double) counts[1], 0.02);
    }

    @Test
    void scoreIgnoresNonsenseWeights() {
        ReplicaLoad zero = new ReplicaLoad(0, 1000, 0, 0, 16, NAN, NAN, 0);
        assertEquals(1000.0, RoutePolicy.score(zero, 1));
    }

    @Test
    void noReplicasIsABug() {
        assertThrows(IllegalArgumentException.class,
                () -> RoutePolicy.decide(List.of(), RouteStrategy.LEAST_LOADED, 0, OptionalInt.empty(), CEILING));
    }
}
