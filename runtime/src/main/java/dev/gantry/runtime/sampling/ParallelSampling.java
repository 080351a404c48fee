package dev.gantry.runtime.sampling;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * Runs a step's per-sequence sampling on several cores: one pool for the process, as many workers as the cores
 * the process has, less one. A step's sequences are cut into contiguous chunks, one a worker (the caller runs the
 * first), so each worker samples several rows in a row with its scratch array warm.
 *
 * <p>Runners share the cores: a runner's step uses at most its share of them (the cores divided by the runners
 * the process has), so that one runner's sampling never takes the cores another runner's thread needs to queue
 * its next decode on a GPU. Small steps run on the caller's thread, where handing out work would cost more than
 * it saves.
 */
public final class ParallelSampling {
    /** Below this many sequences a step samples on the calling thread. */
    static final int MIN_PARALLEL = 4;
    /** The fewest sequences worth waking a worker for. */
    static final int MIN_PER_CHUNK = 2;

    private static final AtomicInteger RUNNERS = new AtomicInteger();

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

    /** A runner that samples through this class counts itself from its start to its end. */
    public static void runnerStarted() {
        RUNNERS.incrementAndGet();
    }

    public static void runnerStopped() {
        RUNNERS.decrementAndGet();
    }

    /** How many chunks a step of {@code n} sequences is cut into, given the cores and the runners sharing them. */
    static int chunks(int n, int cores, int runners) {
        if (n < MIN_PARALLEL || cores < 2) {
            return 1;
        }
        int share = Math.max(1, cores / Math.max(1, runners));
        return Math.clamp(n / MIN_PER_CHUNK, 1, share);
    }

    /** The most parts one row's draw is split into. */
    static final int MAX_PARTS = 8;

    /** A runner's share of the cores below which rows are never split: waking a worker costs more there. */
    static final int MIN_SPLIT_SHARE = 4;

    /**
     * Into how many parts each row of a step of {@code rows} rows is best split (see {@link TokenSampler#scanPart}):
     * 1 unless the runner's share of the cores holds at least two a row (and at least {@link #MIN_SPLIT_SHARE});
     * then as many as that share gives each row, at most {@link #MAX_PARTS}. A step of one sequence (a single
     * client) then copies and scans its 128K logits on several cores instead of one.
     */
    public static int partsPerRow(int rows) {
        int forced = forcedParts;
        return forced > 0 ? forced : partsPerRow(rows, POOL.getParallelism() + 1, RUNNERS.get());
    }

    static int partsPerRow(int rows, int cores, int runners) {
        int share = Math.max(1, cores / Math.max(1, runners));
        if (rows <= 0 || share < MIN_SPLIT_SHARE) {
            return 1;
        }
        int parts = Math.min(MAX_PARTS, share / rows);
        return parts >= 2 ? parts : 1;
    }

    // -Dgantry.splitRows=false samples each row on one thread (for measuring what splitting gains); =N splits every
    // row into N parts
    private static volatile int forcedParts = forcedParts(System.getProperty("gantry.splitRows"));

    private static int forcedParts(String setting) {
        if ("false".equals(setting)) {
            return 1;
        }
        try {
            return setting == null ? 0 : Math.clamp(Integer.parseInt(setting), 1, 64);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Splits every row into {@code parts} parts from now on (1: whole rows; 0: as {@link #partsPerRow} finds). */
    public static void forceParts(int parts) {
        forcedParts = parts;
    }

    /**
     * Runs {@code task} for 0..n-1, each on its own thread (the caller runs 0), and returns once all are done, each
     * of them; the failures by index, or null. For tasks already sized to a thread each (a row's parts).
     */
    public static Throwable[] forEachAlone(int n, IntConsumer task) {
        return run(n, Math.max(1, n), task);
    }

    /**
     * Runs {@code task} for 0..n-1, on the pool when it pays, and returns once all are done, each of them: an index
     * that throws does not stop the others (the caller may free what they use once this returns). Returns the
     * failures by index, or null when there were none.
     */
    public static Throwable[] forEach(int n, IntConsumer task) {
        return run(n, chunks(n, POOL.getParallelism() + 1, RUNNERS.get()), task);
    }

    private static Throwable[] run(int n, int c, IntConsumer task) {
        Throwable[] failures = new Throwable[n];
        AtomicBoolean any = new AtomicBoolean();
        IntConsumer guarded = i -> {
            try {
                task.accept(i);
            } catch (RuntimeException | Error e) {
                failures[i] = e;
                any.set(true);
            }
        };
        if (c <= 1) {
            for (int i = 0; i < n; i++) {
                guarded.accept(i);
            }
        } else {
            // chunk j is [n * j / c, n * (j + 1) / c): the caller takes chunk 0
            ForkJoinTask<?>[] others = new ForkJoinTask<?>[c - 1];
            for (int j = 1; j < c; j++) {
                int from = (int) ((long) n * j / c);
                int to = (int) ((long) n * (j + 1) / c);
                others[j - 1] = POOL.submit(() -> {
                    for (int i = from; i < to; i++) {
                        guarded.accept(i);
                    }
                });
            }
            for (int i = 0; i < n / c; i++) {
                guarded.accept(i);
            }
            for (ForkJoinTask<?> t : others) {
                t.join(); // the chunks catch their own failures: a join never throws for them
            }
        }
        return any.get() ? failures : null;
    }
}
