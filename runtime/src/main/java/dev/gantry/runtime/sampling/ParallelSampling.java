package dev.gantry.runtime.sampling;

import java.util.concurrent.ForkJoinPool;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * Runs a step's per-sequence sampling on several cores: one pool for the process, as many workers as the cores
 * the process has, less one for the runner threads. Small batches run on the caller's thread, where handing
 * them out would cost more than it saves.
 */
public final class ParallelSampling {
    /** Below this many sequences a step samples on the calling thread. */
    static final int MIN_PARALLEL = 4;

    private static final ForkJoinPool POOL = new ForkJoinPool(
            Math.max(1, Runtime.getRuntime().availableProcessors() - 1),
            pool -> {
                var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
                t.setName("sampler-" + t.getPoolIndex());
                t.setDaemon(true);
                return t;
            }, null, false);

    private ParallelSampling() {
    }

    /**
     * Runs {@code task} for 0..n-1, on the pool when it pays, and returns once all are done, each of them: an index
     * that throws does not stop the others (a parallel stream's join returns on the first failure while the rest
     * still run, and the caller may then free what they use). Returns the failures by index, or null when there
     * were none.
     */
    public static Throwable[] forEach(int n, IntConsumer task) {
        Throwable[] failures = new Throwable[n];
        java.util.concurrent.atomic.AtomicBoolean any = new java.util.concurrent.atomic.AtomicBoolean();
        IntConsumer guarded = i -> {
            try {
                task.accept(i);
            } catch (RuntimeException | Error e) {
                failures[i] = e;
                any.set(true);
            }
        };
        if (n < MIN_PARALLEL || POOL.getParallelism() < 2) {
            for (int i = 0; i < n; i++) {
                guarded.accept(i);
            }
        } else {
            POOL.submit(() -> IntStream.range(0, n).parallel().forEach(guarded)).join();
        }
        return any.get() ? failures : null;
    }
}
