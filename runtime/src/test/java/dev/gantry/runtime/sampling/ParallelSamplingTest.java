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
}
