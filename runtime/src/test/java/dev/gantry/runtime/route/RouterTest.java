package dev.gantry.runtime.route;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.route.RouteDecision.Reason;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The router's state: prefixes remembered, the request counter, and the prefix hash. */
class RouterTest {

    private static ReplicaLoad load(int id, long tokens) {
        return new ReplicaLoad(id, tokens, 0, 1, 16, 0, Double.NaN, 1);
    }

    @Test
    void aPrefixGoesBackToTheReplicaThatServedIt() {
        Router router = new Router(RouteStrategy.LEAST_LOADED);
        RouteRequest conversation = new RouteRequest(42);
        // first turn: replica 1 is the least loaded
        assertEquals(1, router.choose(List.of(load(0, 800), load(1, 200)), conversation));
        // second turn: replica 0 is now a little less loaded, but replica 1 holds the conversation
        RouteDecision d = router.route(List.of(load(0, 100), load(1, 400)), conversation);
        assertEquals(1, d.replicaId());
        assertEquals(Reason.PREFIX, d.reason());
        // a request without a prefix goes by load
        assertEquals(0, router.choose(List.of(load(0, 100), load(1, 900)), RouteRequest.NONE));
        // replica 1 much busier: the conversation moves, and is remembered where it went
        assertEquals(0, router.choose(List.of(load(0, 100), load(1, 9000)), conversation));
        assertEquals(Reason.PREFIX, router.route(List.of(load(0, 500), load(1, 100)), conversation).reason());
    }

    @Test
    void replicaIdsNotIndicesAreRemembered() {
        Router router = new Router(RouteStrategy.LEAST_LOADED);
        RouteRequest req = new RouteRequest(7);
        assertEquals(1, router.route(List.of(load(10, 500), load(20, 100)), req).index());
        // the list changed order: the holder is found by id
        RouteDecision d = router.route(List.of(load(20, 300), load(10, 100)), req);
        assertEquals(20, d.replicaId());
        assertEquals(0, d.index());
    }

    @Test
    void thePrefixTableForgetsTheLeastRecentlyUsed() {
        Router router = new Router(RouteStrategy.ROUND_ROBIN, 0.95, 2);
        List<ReplicaLoad> replicas = List.of(load(0, 0), load(1, 0));
        router.choose(replicas, new RouteRequest(1)); // -> 0
        router.choose(replicas, new RouteRequest(2)); // -> 1
        router.choose(replicas, new RouteRequest(1)); // prefix -> 0, and 1 is now the most recent
        router.choose(replicas, new RouteRequest(3)); // evicts 2
        assertEquals(2, router.rememberedPrefixes());
        assertEquals(Reason.PREFIX, router.route(replicas, new RouteRequest(1)).reason());
        assertEquals(Reason.STRATEGY, router.route(replicas, new RouteRequest(2)).reason());
    }

    @Test
    void anUnloadedReplicasPrefixesAreForgotten() {
        Router router = new Router(RouteStrategy.LEAST_LOADED);
        router.choose(List.of(load(0, 0), load(1, 50)), new RouteRequest(5));
        router.choose(List.of(load(0, 50), load(1, 0)), new RouteRequest(6));
        router.forgetReplica(0);
        assertEquals(1, router.rememberedPrefixes());
    }

    @Test
    void roundRobinFromManyThreadsStaysEven() throws InterruptedException {
        Router router = new Router(RouteStrategy.ROUND_ROBIN);
        List<ReplicaLoad> replicas = List.of(load(0, 0), load(1, 0), load(2, 0), load(3, 0));
        AtomicIntegerArray counts = new AtomicIntegerArray(4);
        CountDownLatch done = new CountDownLatch(4);
        for (int t = 0; t < 4; t++) {
            Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 1000; i++) {
                    counts.incrementAndGet(router.choose(replicas, RouteRequest.NONE));
                }
                done.countDown();
            });
        }
        done.await();
        IntStream.range(0, 4).forEach(i -> assertEquals(1000, counts.get(i)));
    }

    @Test
    void prefixHashCoversTheFirstTokensButNotTheLast() {
        int[] a = IntStream.range(0, 200).toArray();
        int[] b = a.clone();
        b[150] = -1; // beyond the first 64: same prefix
        assertEquals(Router.prefixHash(a, 200), Router.prefixHash(b, 200));
        b[10] = -1;
        assertNotEquals(Router.prefixHash(a, 200), Router.prefixHash(b, 200));
        // a short prompt: all but the last token
        assertEquals(Router.prefixHash(new int[] {1, 2, 3}, 3), Router.prefixHash(new int[] {1, 2, 4}, 3));
        assertNotEquals(Router.prefixHash(new int[] {1, 2, 3}, 3), Router.prefixHash(new int[] {1, 5, 3}, 3));
        // only the first length tokens of the buffer count
        assertEquals(Router.prefixHash(new int[] {1, 2, 3, 0, 0}, 3), Router.prefixHash(new int[] {1, 2, 9}, 3));
        // the same tokens at different lengths are different prefixes
        assertNotEquals(Router.prefixHash(new int[] {0, 0, 0}, 3), Router.prefixHash(new int[] {0, 0, 0, 0}, 4));
    }

    @ParameterizedTest
    @CsvSource({"0, 0", "1, 0"})
    void promptsOfOneTokenOrNoneHaveNoPrefix(int length, long hash) {
        assertEquals(hash, Router.prefixHash(new int[] {7, 8}, length));
    }

    @Test
    void prefixHashIsNeverZeroForARealPrefix() {
        for (int i = 0; i < 10_000; i++) {
            assertTrue(Router.prefixHash(new int[] {i, i * 31, 5}, 3) != 0);
        }
        assertThrows(IllegalArgumentException.class, () -> Router.prefixHash(new int[2], 3));
    }

    @ParameterizedTest
    @CsvSource({"least-loaded, LEAST_LOADED", "'', LEAST_LOADED", "Round-Robin, ROUND_ROBIN", "weighted, WEIGHTED",
            "round_robin, ROUND_ROBIN"})
    void strategies(String s, RouteStrategy strategy) {
        assertEquals(strategy, RouteStrategy.parse(s));
    }

    @Test
    void unknownStrategyListsTheChoices() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RouteStrategy.parse("random"));
        assertEquals("unknown routing strategy \"random\": expected least-loaded, round-robin or weighted", e.getMessage());
    }
}
