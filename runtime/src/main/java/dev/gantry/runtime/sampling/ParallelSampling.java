package dev.gantry.runtime.sampling;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * Runs a step's per-sequence sampling on several cores: a pool for each runner (one for the process off a
 * runner's thread), as many workers as the cores the process has, less one, made as they are needed. A step's
 * sequences are cut into contiguous chunks, one a worker (the caller runs the first), so each worker samples several
 * rows in a row with its scratch array warm.
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

    private static final ForkJoinPool POOL = newPool("sampler-");

    /**
     * Each runner samples on a pool of its own (its threads made as needed), so two runners' steps never queue
     * behind each other's tasks: on two H200s at 32 clients a GPU the replicas' sampling took 1.00 and 0.88 ms a
     * step against 1.21 and 1.01 on one shared pool, and the pair made 1.0% and 2.8% more tokens a second.
     * -Dgantry.samplingPool=shared restores the one pool for the process.
     */
    static final boolean POOL_PER_RUNNER = !"shared".equals(System.getProperty("gantry.samplingPool"));
    /** The runner thread's own pool, with {@link #POOL_PER_RUNNER}. */
    private static final ThreadLocal<ForkJoinPool> OWN = new ThreadLocal<>();

    private static ForkJoinPool newPool(String prefix) {
        return new ForkJoinPool(Math.max(1, Runtime.getRuntime().availableProcessors() - 1), pool -> {
            var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
            t.setName(prefix + t.getPoolIndex());
            t.setDaemon(true);
            return t;
        }, null, false);
    }

    /** The pool the calling thread samples on: its runner's own, else the process's. */
    private static ForkJoinPool pool() {
        ForkJoinPool own = OWN.get();
        return own != null ? own : POOL;
    }

    private ParallelSampling() {
    }

    /** Runners whose decode runs on the CPU: their llama.cpp threads need the cores split rows would spin on. */
    private static final AtomicInteger CPU_RUNNERS = new AtomicInteger();

    /** A runner that samples through this class counts itself from its start to its end. */
    public static void runnerStarted() {
        runnerStarted(false);
    }

    /** As {@link #runnerStarted()}, saying whether the runner's decode runs on the CPU. */
    public static void runnerStarted(boolean decodesOnCpu) {
        if (POOL_PER_RUNNER && OWN.get() == null) {
            OWN.set(newPool("sampler-" + Thread.currentThread().getName() + "-"));
        }
        RUNNERS.incrementAndGet();
        if (decodesOnCpu) {
            CPU_RUNNERS.incrementAndGet();
        }
    }

    public static void runnerStopped() {
        runnerStopped(false);
    }

    public static void runnerStopped(boolean decodesOnCpu) {
        ForkJoinPool own = OWN.get();
        if (own != null) {
            OWN.remove();
            own.shutdown();
        }
        RUNNERS.decrementAndGet();
        if (decodesOnCpu) {
            CPU_RUNNERS.decrementAndGet();
        }
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
    static final int MAX_PARTS = 4;
    /**
     * A runner's share of the cores below which rows are never split: the parts' workers wait for the rows
     * spinning, which a host with few cores cannot spare.
     */
    static final int MIN_SPLIT_SHARE = 8;

    /**
     * How a step of {@code rows} rows is sampled: 0 through {@link #forEach} (workers woken at sampling time, a
     * chunk of rows each), or prepared ({@link #prepare}) as that many parts a row, one waiting task a part. 0 for a
     * single row, while any runner decodes on the CPU, or unless the runner's share of the cores is at least
     * {@link #MIN_SPLIT_SHARE} and half of it holds a task for every row; else as many parts a row as that half
     * gives, at most {@link #MAX_PARTS}. A step of two sequences then copies and scans each 128K-logit row on four
     * cores, and a runner of two on a 32-core host (16 cores each) samples 8 rows at once, a row a task.
     */
    public static int partsPerRow(int rows) {
        int forced = forcedParts;
        if (forced >= 0) {
            return forced;
        }
        return CPU_RUNNERS.get() > 0 ? 0 : partsPerRow(rows, pool().getParallelism() + 1, RUNNERS.get());
    }

    static int partsPerRow(int rows, int cores, int runners) {
        int share = Math.max(1, cores / Math.max(1, runners));
        // one row: no gain measured in a runner on a GPU host (its step's sampling took 0.15 ms either way), so no
        // workers spinning for it
        if (rows < 2 || share < MIN_SPLIT_SHARE) {
            return 0;
        }
        return Math.min(MAX_PARTS, share / 2 / rows); // half the share at most: the rest serve the clients
    }

    /** {@link #forceParts} argument: back to {@link #partsPerRow}'s own choice. */
    public static final int AUTO = -1;

    // -Dgantry.splitRows=false samples through forEach, nothing prepared (for measuring what preparing gains); =N
    // prepares N parts a row
    private static volatile int forcedParts = forcedParts(System.getProperty("gantry.splitRows"));

    private static int forcedParts(String setting) {
        if ("false".equals(setting)) {
            return 0;
        }
        try {
            return setting == null ? AUTO : Math.clamp(Integer.parseInt(setting), 1, 64);
        } catch (NumberFormatException e) {
            return AUTO;
        }
    }

    /** Whether the parts a row is split into are forced ({@code -Dgantry.splitRows}, {@link #forceParts}). */
    public static boolean partsForced() {
        return forcedParts >= 0;
    }

    /**
     * Samples every step as {@code parts} says from now on (0: through {@link #forEach}; N: prepared, N parts a row;
     * {@link #AUTO}: as {@link #partsPerRow} finds): for tests and measurements only, since forced parts ignore the
     * runner's share of the cores.
     */
    public static void forceParts(int parts) {
        forcedParts = parts < 0 ? AUTO : parts;
    }

    /**
     * Hands out tasks 1..n-1 now, before what they work on exists: each waits on a pool worker until
     * {@link Prepared#start} (spinning, then after {@link Prepared#SPIN_NANOS} polling) and then runs. Waking a
     * parked worker took 70 to 100 µs on a GPU host, as long as a whole logits row takes one core; a worker already
     * waiting starts within a microsecond. A runner prepares its step's parts before it waits for the device.
     */
    public static Prepared prepare(int n, IntConsumer task) {
        Prepared p = new Prepared(n, task);
        try {
            for (int i = 1; i < n; i++) {
                int index = i;
                p.others[i - 1] = pool().submit(() -> {
                    try {
                        if (p.await()) {
                            p.run(index);
                        }
                    } finally {
                        p.finished.incrementAndGet();
                    }
                });
            }
        } catch (RuntimeException | Error e) {
            p.cancel(); // the tasks handed out so far let go
            throw e;
        }
        return p;
    }

    /** Tasks handed out by {@link #prepare}: started once (or cancelled), then done. */
    public static final class Prepared {
        /** How long a waiting task spins before it polls (a step that carries a long prompt waits longer). */
        static final long SPIN_NANOS = 20_000_000;
        private static final int WAITING = 0;
        private static final int GO = 1;
        private static final int CANCELLED = 2;

        private final IntConsumer task;
        private final ForkJoinTask<?>[] others;
        private final Throwable[] failures;
        private volatile boolean failed;
        private volatile int state = WAITING;
        private final AtomicInteger finished = new AtomicInteger();

        private Prepared(int n, IntConsumer task) {
            this.task = task;
            this.others = new ForkJoinTask<?>[Math.max(0, n - 1)];
            this.failures = new Throwable[n];
        }

        private boolean await() {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            int s;
            while ((s = state) == WAITING) {
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    java.util.concurrent.locks.LockSupport.parkNanos(50_000);
                }
            }
            return s == GO;
        }

        private void run(int i) {
            try {
                task.accept(i);
            } catch (RuntimeException | Error e) {
                failures[i] = e;
                failed = true;
            }
        }

        /**
         * Lets every task run (what they read must be written before this call), runs task 0 here, and returns
         * once all are done: the failures by index, or null.
         */
        public Throwable[] start() {
            if (state != WAITING) {
                throw new IllegalStateException("already started or cancelled");
            }
            state = GO;
            run(0);
            // the other tasks end within microseconds of this one: wait for them spinning (a join that parks this
            // thread took 50 to 100 us to wake it again), for a millisecond at most
            long until = System.nanoTime() + 1_000_000;
            while (finished.get() < others.length && System.nanoTime() < until) {
                Thread.onSpinWait();
            }
            for (ForkJoinTask<?> t : others) {
                t.join(); // the tasks catch their own failures: a join never throws for them
            }
            return failed ? failures : null;
        }

        /** Releases the waiting tasks without running them; returns once they have all let go. */
        public void cancel() {
            if (state != WAITING) {
                return;
            }
            state = CANCELLED;
            for (ForkJoinTask<?> t : others) {
                if (t != null) { // a prepare that failed part-way handed out fewer
                    t.join();
                }
            }
        }
    }

    /**
     * Runs {@code task} for 0..n-1, on the pool when it pays, and returns once all are done, each of them: an index
     * that throws does not stop the others (the caller may free what they use once this returns). Returns the
     * failures by index, or null when there were none.
     */
    public static Throwable[] forEach(int n, IntConsumer task) {
        return run(n, chunks(n, pool().getParallelism() + 1, RUNNERS.get()), task);
    }

    /**
     * Starts {@code task} for 0..n-1 on the pool, every chunk of them there (none on the caller, which goes on with
     * other work meanwhile: a runner queues its next prompts' decode), and returns at once; {@link Running#join}
     * waits for them. Chunked as {@link #forEach}, one chunk at least.
     */
    public static Running begin(int n, IntConsumer task) {
        int c = Math.max(1, Math.min(n, chunks(n, pool().getParallelism(), RUNNERS.get()))); // the caller runs none
        Running r = new Running(n, c, task);
        r.submit(0);
        return r;
    }

    /**
     * Tasks 0..n-1 in chunks, chunk j being {@code [n * j / c, n * (j + 1) / c)}: those handed to the pool
     * ({@link #begin}'s, or {@link #forEach}'s but the caller's first), each task's failure kept by its index.
     */
    public static final class Running {
        private final int n;
        private final IntConsumer task;
        private final Throwable[] failures;
        private final ForkJoinTask<?>[] chunks; // by chunk; null where the caller runs it
        private volatile boolean failed;

        private Running(int n, int c, IntConsumer task) {
            this.n = n;
            this.task = task;
            this.failures = new Throwable[n];
            this.chunks = new ForkJoinTask<?>[c];
        }

        /** Runs task {@code i} here, keeping its failure: one task's failure does not stop the others. */
        private void run(int i) {
            try {
                task.accept(i);
            } catch (RuntimeException | Error e) {
                failures[i] = e;
                failed = true;
            }
        }

        /** Hands chunks {@code first} and up to the pool. */
        private void submit(int first) {
            int c = chunks.length;
            try {
                for (int j = first; j < c; j++) {
                    int from = (int) ((long) n * j / c);
                    int to = (int) ((long) n * (j + 1) / c);
                    chunks[j] = pool().submit(() -> {
                        for (int i = from; i < to; i++) {
                            run(i);
                        }
                    });
                }
            } catch (RuntimeException | Error e) {
                join(); // the chunks handed out so far end before the caller frees what they read
                throw e;
            }
        }

        /** Returns once every task is done: the failures by index, or null. */
        public Throwable[] join() {
            for (ForkJoinTask<?> t : chunks) {
                if (t != null) {
                    t.join(); // the chunks catch their own failures: a join never throws for them
                }
            }
            return failed ? failures : null;
        }
    }

    private static Throwable[] run(int n, int c, IntConsumer task) {
        Running r = new Running(n, Math.max(1, c), task);
        r.submit(1); // the caller takes chunk 0 (all of them when there is one chunk)
        for (int i = 0; i < n / Math.max(1, c); i++) {
            r.run(i);
        }
        return r.join();
    }
}
