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

    /** A row is split only where the step leaves cores idle: its share of them, at most eight parts. */
    @Test
    void rowsAreSplitOnlyOverIdleCores() {
        assertEquals(8, ParallelSampling.partsPerRow(1, 16, 1), "one client on 16 cores");
        assertEquals(1, ParallelSampling.partsPerRow(1, 2, 1), "one client on 2 cores: waking a worker costs more");
        assertEquals(4, ParallelSampling.partsPerRow(1, 4, 1));
        assertEquals(4, ParallelSampling.partsPerRow(4, 16, 1));
        assertEquals(1, ParallelSampling.partsPerRow(9, 16, 1), "not two cores a row: whole rows");
        assertEquals(2, ParallelSampling.partsPerRow(2, 16, 4), "four runners: four cores each");
        assertEquals(1, ParallelSampling.partsPerRow(1, 1, 1), "one core");
        assertEquals(1, ParallelSampling.partsPerRow(0, 16, 1));
    }

    /** Tasks sized to a thread each all run once, the caller's included, and failures come back by index. */
    @Test
    void tasksAloneRunOnceEach() {
        for (int n : new int[] {1, 2, 8, 16}) {
            AtomicIntegerArray runs = new AtomicIntegerArray(n);
            Throwable[] failures = ParallelSampling.forEachAlone(n, i -> {
                runs.incrementAndGet(i);
                if (i == n - 1) {
                    throw new IllegalStateException("last");
                }
            });
            for (int i = 0; i < n; i++) {
                assertEquals(1, runs.get(i), "task " + i + " of " + n);
            }
            assertTrue(failures[n - 1] instanceof IllegalStateException);
        }
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
