package dev.gantry.runtime.runner;

import java.util.ArrayDeque;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * Where a runner's submissions wait for its thread, and the count of those it still owes an answer: a sequence is
 * outstanding from its submission until the runner finishes or fails it ({@link #settled}). Submissions beyond the
 * slots plus the wait queue are refused. {@link #offer} and the counts are thread-safe; the rest is for the runner
 * thread (and for a close after it stopped).
 */
final class Inbox {
    private final String runner;
    private final int slots;
    private final int maxQueue;
    private final LinkedBlockingQueue<Sequence> queue = new LinkedBlockingQueue<>();
    private final AtomicInteger outstanding = new AtomicInteger();
    /** Of the outstanding sequences, those let in with a request already admitted: the bound does not count them. */
    private final AtomicInteger followers = new AtomicInteger();
    /** Requests of many sequences let in ({@link #admitBatch}) and not yet closed: each counts once in the bound. */
    private final AtomicInteger batches = new AtomicInteger();
    private final AtomicInteger rejected = new AtomicInteger();

    Inbox(String runner, int slots, int maxQueue) {
        this.runner = runner;
        this.slots = slots;
        this.maxQueue = maxQueue;
    }

    /** What a client is told when the queue is full: Ollama's words ({@code ErrMaxQueue}), two spaces and all. */
    static final String BUSY = "server busy, please try again.  maximum pending requests exceeded";

    /**
     * Queues {@code s} for the runner thread.
     *
     * @throws QueueFullException    when every slot is busy and the wait queue is full
     * @throws IllegalStateException when the runner has stopped, before or while the sequence was queued
     */
    Sequence offer(Sequence s, BooleanSupplier running) {
        return offer(s, running, false);
    }

    /**
     * {@link #offer(Sequence, BooleanSupplier)}; with {@code admitted}, the sequence belongs to a request that was
     * already let in (the second and later inputs of one embedding batch) and is queued whatever the bound, and does
     * not count toward it: Ollama schedules such a batch as one request, so neither its size nor other batches'
     * sizes make the server "busy".
     */
    Sequence offer(Sequence s, BooleanSupplier running, boolean admitted) {
        if (!running.getAsBoolean()) {
            throw new IllegalStateException("runner " + runner + " is stopped");
        }
        if (admitted) {
            s.follower = true;
            followers.incrementAndGet();
            outstanding.incrementAndGet();
        } else if (outstanding.incrementAndGet() - followers.get() + batches.get() > slots + maxQueue) {
            // the bound counts requests, as Ollama's OLLAMA_MAX_QUEUE does, not the inputs of embedding batches
            outstanding.decrementAndGet();
            rejected.incrementAndGet();
            throw new QueueFullException(BUSY);
        }
        queue.add(s);
        if (!running.getAsBoolean() && queue.remove(s)) {
            // the runner stopped between the check above and the add: nobody would ever finish this sequence
            settled(s);
            throw new IllegalStateException("runner " + runner + " is stopped");
        }
        return s;
    }

    /** See {@link Runner#admitBatch()}. */
    Runner.Admission admitBatch(BooleanSupplier running) {
        if (!running.getAsBoolean()) {
            throw new IllegalStateException("runner " + runner + " is stopped");
        }
        if (batches.incrementAndGet() + outstanding.get() - followers.get() > slots + maxQueue) {
            batches.decrementAndGet();
            rejected.incrementAndGet();
            throw new QueueFullException(BUSY);
        }
        java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
        return () -> {
            if (closed.compareAndSet(false, true)) {
                batches.decrementAndGet();
            }
        };
    }

    /**
     * Moves the queued sequences to {@code waiting}; with {@code waitMillis} above 0, first waits that long for one
     * and returns false when none came.
     */
    boolean moveTo(ArrayDeque<Sequence> waiting, long waitMillis) throws InterruptedException {
        if (waitMillis > 0) {
            Sequence s = queue.poll(waitMillis, TimeUnit.MILLISECONDS);
            if (s == null) {
                return false;
            }
            waiting.add(s);
        }
        for (Sequence s; (s = queue.poll()) != null; ) {
            waiting.add(s);
        }
        return true;
    }

    /** The next queued sequence, or null; it is still outstanding until {@link #settled}. */
    Sequence poll() {
        return queue.poll();
    }

    /** Outstanding sequence {@code s} has had its answer (finished, failed or never taken). */
    void settled(Sequence s) {
        // outstanding first: between the two, the bound sees one request fewer, never one more (a false 503)
        outstanding.decrementAndGet();
        if (s.follower) {
            followers.decrementAndGet();
        }
    }

    int outstanding() {
        return outstanding.get();
    }

    int rejected() {
        return rejected.get();
    }

    /** Sequences queued and not yet taken by the runner thread. */
    int queued() {
        return queue.size();
    }
}
