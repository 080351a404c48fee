package dev.gantry.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ParallelSamplingTest {
    /** An index that throws does not stop the others, and forEach returns only once every index has run. */
    @Test
    void everyIndexRunsAndFailuresComeBackByIndex() {
        for (int n : new int[] {2, 64}) { // on the caller's thread, and on the pool
            AtomicIntegerArray done = new AtomicIntegerArray(n);
            Throwable[] failures = ParallelSampling.forEach(n, i -> {
                if (i == 1) {
                    throw new IllegalStateException("index 1");
                }
                try {
                    Thread.sleep(i % 7); // some finish after the failure
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                done.incrementAndGet(i);
            });
            for (int i = 0; i < n; i++) {
                assertEquals(i == 1 ? 0 : 1, done.get(i), "index " + i + " of " + n);
            }
            assertTrue(failures[1] instanceof IllegalStateException);
            for (int i = 0; i < n; i++) {
                if (i != 1) {
                    assertNull(failures[i]);
                }
            }
        }
        assertNull(ParallelSampling.forEach(8, i -> { }));
    }

    /** Every index runs exactly once whatever the chunking, the caller's chunk included. */
    @Test
    void chunksCoverEveryIndexOnce() {
        for (int n : new int[] {3, 4, 5, 7, 61, 128, 257}) {
            AtomicIntegerArray runs = new AtomicIntegerArray(n);
            assertNull(ParallelSampling.forEach(n, runs::incrementAndGet));
            for (int i = 0; i < n; i++) {
                assertEquals(1, runs.get(i), "index " + i + " of " + n);
            }
        }
    }

    /**
     * Rows are prepared only over idle cores: two rows or more, a share of at least 8 a runner, a task a row in half
     * of it at most; split where that half holds two a row.
     */
    @Test
    void rowsArePreparedOnlyOverIdleCores() {
        assertEquals(0, ParallelSampling.partsPerRow(1, 16, 1), "one client: no gain measured, no spinning workers");
        assertEquals(0, ParallelSampling.partsPerRow(2, 4, 1), "4 cores: none to spare for waiting workers");
        assertEquals(4, ParallelSampling.partsPerRow(2, 16, 1), "two clients on 16 cores");
        assertEquals(2, ParallelSampling.partsPerRow(4, 16, 1));
        assertEquals(1, ParallelSampling.partsPerRow(5, 16, 1), "not two cores a row in half the share: whole rows");
        assertEquals(1, ParallelSampling.partsPerRow(8, 32, 2), "two runners of 8 on 32 cores: a row a task");
        assertEquals(2, ParallelSampling.partsPerRow(8, 32, 1), "one runner of 8 on 32 cores");
        assertEquals(0, ParallelSampling.partsPerRow(9, 32, 2), "more rows than half the share: chunks at sampling");
        assertEquals(2, ParallelSampling.partsPerRow(4, 64, 4), "four runners: sixteen cores each");
        assertEquals(0, ParallelSampling.partsPerRow(2, 16, 4), "four runners on 16 cores: four each");
        assertEquals(0, ParallelSampling.partsPerRow(0, 16, 1));
    }

    /** Prepared tasks wait for start, then each runs once (the caller's included); failures come back by index. */
    @Test
    void preparedTasksRunOnceEachAfterTheStart() throws InterruptedException {
        for (int n : new int[] {1, 2, 8}) {
            AtomicIntegerArray runs = new AtomicIntegerArray(n);
            int[] input = new int[n];
            ParallelSampling.Prepared p = ParallelSampling.prepare(n, i -> {
                runs.addAndGet(i, input[i]); // written before start: each task must see it
                if (i == n - 1) {
                    throw new IllegalStateException("last");
                }
            });
            Thread.sleep(5);
            for (int i = 0; i < n; i++) {
                assertEquals(0, runs.get(i), "task " + i + " ran before the start");
                input[i] = 1;
            }
            Throwable[] failures = p.start();
            for (int i = 0; i < n; i++) {
                assertEquals(1, runs.get(i), "task " + i + " of " + n);
            }
            assertTrue(failures[n - 1] instanceof IllegalStateException);
        }
    }

    /** Cancelled tasks never run, and the start of a cancelled set is refused. */
    @Test
    void cancelledTasksNeverRun() {
        AtomicIntegerArray runs = new AtomicIntegerArray(4);
        ParallelSampling.Prepared p = ParallelSampling.prepare(4, runs::incrementAndGet);
        p.cancel();
        for (int i = 0; i < 4; i++) {
            assertEquals(0, runs.get(i));
        }
        org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, p::start);
        p.cancel(); // twice is harmless
    }

    /** A step's chunks: at least two sequences each, at most the runner's share of the cores. */
    @Test
    void aRunnerUsesItsShareOfTheCores() {
        assertEquals(1, ParallelSampling.chunks(3, 64, 1), "small steps stay on the caller");
        assertEquals(1, ParallelSampling.chunks(64, 1, 1), "one core");
        assertEquals(30, ParallelSampling.chunks(61, 64, 1), "two sequences a chunk");
        assertEquals(64, ParallelSampling.chunks(200, 64, 1), "no more chunks than cores");
        assertEquals(16, ParallelSampling.chunks(61, 64, 4), "four runners: a quarter of the cores each");
        assertEquals(1, ParallelSampling.chunks(61, 2, 4), "more runners than cores: the caller alone");
        assertEquals(64, ParallelSampling.chunks(128, 64, 0), "no runner counted yet: as one");
    }
}
