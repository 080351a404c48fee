package dev.gantry.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.runtime.runner.RunnerStats;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Ten times the capacity (running sequences plus queue) at once, through a real HTTP client: every request ends,
 * either with a complete answer or with a 503 that says when to retry; the runner's sequences and KV cells all
 * come back, and neither the heap nor the process's resident memory grows from one burst to the next.
 */
class OverloadTest {
    static final int PARALLEL = 2;
    static final int QUEUE = 8;
    static final int CAPACITY = PARALLEL + QUEUE;

    @Test
    void aBurstOfTenTimesCapacityEndsInAnswersOr503s() throws Exception {
        try (TestServer server = TestServer.start(TestServer.defaults().withNumParallel(PARALLEL).withMaxQueue(QUEUE))) {
            server.post("/api/generate", "{\"model\":\"stories260k\"}"); // load
            Burst first = burst(server);
            assertTrue(first.busy > 0, "the burst overflowed the queue: " + first);
            assertTrue(first.ok >= CAPACITY, "at least the capacity was served: " + first);
            idle(server);
            long heap0 = heapAfterGc();
            long rss0 = residentBytes();
            Burst second = burst(server);
            Burst third = burst(server);
            RunnerStats st = idle(server);
            long heap1 = heapAfterGc();
            long rss1 = residentBytes();
            assertEquals(0, st.active(), "no sequence left running");
            assertEquals(0, st.waiting(), "no request left waiting");
            assertEquals(0, st.kvCellsUsed(), "every KV cell freed");
            assertEquals(first.busy + second.busy + third.busy, st.rejected(), "every 503 counted as a rejection");
            assertTrue(heap1 - heap0 < 32L << 20, "heap after GC grew by " + ((heap1 - heap0) >> 20) + " MiB");
            if (rss0 > 0) {
                assertTrue(rss1 - rss0 < 128L << 20, "resident memory grew by " + ((rss1 - rss0) >> 20) + " MiB");
            }
        }
    }

    record Burst(int ok, int busy) {}

    /** Holds every sequence with long generations, then sends ten times the capacity at once. */
    static Burst burst(TestServer server) throws Exception {
        List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
        for (int i = 0; i < PARALLEL; i++) {
            calls.add(send(server, "/api/generate", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\","
                    + "\"options\":{\"num_predict\":1500,\"ignore_eos\":true}}"));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (server.model().stats().active() < PARALLEL && System.nanoTime() < deadline) {
            Thread.sleep(2);
        }
        for (int i = PARALLEL; i < 10 * CAPACITY; i++) {
            boolean chat = i % 3 == 0;
            boolean stream = i % 2 == 0;
            String body = chat
                    ? "{\"model\":\"stories260k\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell a story " + i
                      + "\"}],\"stream\":" + stream + ",\"options\":{\"num_predict\":16}}"
                    : "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time " + i + "\",\"stream\":" + stream
                      + ",\"options\":{\"num_predict\":16}}";
            calls.add(send(server, chat ? "/api/chat" : "/api/generate", body));
        }
        int ok = 0;
        int busy = 0;
        for (CompletableFuture<HttpResponse<String>> c : calls) {
            HttpResponse<String> r = c.get(180, TimeUnit.SECONDS); // a hang fails here
            if (r.statusCode() == 503) {
                busy++;
                assertTrue(r.headers().firstValue("Retry-After").filter(v -> Integer.parseInt(v) > 0).isPresent(),
                        "a 503 says when to retry: " + r.headers().map());
                assertTrue(TestServer.json(r.body()).get("error").isTextual(), r.body());
            } else {
                assertEquals(200, r.statusCode(), r.body());
                JsonNode last = TestServer.ndjson(r.body()).getLast();
                assertTrue(last.get("done").asBoolean(), "complete: " + r.body());
                assertTrue(last.get("eval_count").asInt() > 0, r.body());
                ok++;
            }
        }
        assertEquals(10 * CAPACITY, ok + busy);
        return new Burst(ok, busy);
    }

    static CompletableFuture<HttpResponse<String>> send(TestServer server, String path, String body) {
        return server.http.sendAsync(HttpRequest.newBuilder(server.uri(path)).timeout(Duration.ofSeconds(180))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The runner's counters once it has nothing left to do (the last finish is reported after its answer). */
    static RunnerStats idle(TestServer server) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        RunnerStats st = server.model().stats();
        while ((st.active() > 0 || st.waiting() > 0 || st.kvCellsUsed() > 0) && System.nanoTime() < deadline) {
            Thread.sleep(5);
            st = server.model().stats();
        }
        return st;
    }

    static long heapAfterGc() {
        MemoryMXBean mem = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return mem.getHeapMemoryUsage().getUsed();
    }

    /** VmRSS from /proc (Linux), or -1 elsewhere. */
    static long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            // not Linux
        }
        return -1;
    }
}
