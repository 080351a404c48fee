package dev.gantry.llama;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A {@code llama_batch} whose arrays Gantry allocates itself, so adding a token is a few native stores and no call.
 * Each token belongs to exactly one sequence. Owns its memory; {@link #close()} frees it once.
 *
 * <p>Not thread-safe: a runner fills and decodes it on its own thread.
 */
public final class LlamaBatch implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final int capacity;
    private final MemorySegment struct;
    private final MemorySegment tokens;
    private final MemorySegment positions;
    private final MemorySegment seqIds;
    private final MemorySegment outputs;
    private int size;

    private LlamaBatch(int capacity) {
        this.capacity = capacity;
        struct = arena.allocate(Layouts.BATCH);
        tokens = arena.allocate(JAVA_INT, capacity);
        positions = arena.allocate(JAVA_INT, capacity);
        MemorySegment nSeqId = arena.allocate(JAVA_INT, capacity);
        MemorySegment seqIdPointers = arena.allocate(ADDRESS, capacity);
        seqIds = arena.allocate(JAVA_INT, capacity);
        outputs = arena.allocate(JAVA_BYTE, capacity);
        for (int i = 0; i < capacity; i++) {
            nSeqId.setAtIndex(JAVA_INT, i, 1);
            seqIdPointers.setAtIndex(ADDRESS, i, seqIds.asSlice((long) i * Integer.BYTES, Integer.BYTES));
        }
        struct.set(ADDRESS, Layouts.offset(Layouts.BATCH, "token"), tokens);
        struct.set(ADDRESS, Layouts.offset(Layouts.BATCH, "embd"), MemorySegment.NULL);
        struct.set(ADDRESS, Layouts.offset(Layouts.BATCH, "pos"), positions);
        struct.set(ADDRESS, Layouts.offset(Layouts.BATCH, "n_seq_id"), nSeqId);
        struct.set(ADDRESS, Layouts.offset(Layouts.BATCH, "seq_id"), seqIdPointers);
        struct.set(ADDRESS, Layouts.offset(Layouts.BATCH, "logits"), outputs);
    }

    public static LlamaBatch allocate(int capacity) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("batch capacity must be > 0, was " + capacity);
        }
        return new LlamaBatch(capacity);
    }

    /**
     * Appends one token and returns its index in the batch (the index to sample or read logits at).
     *
     * @param output whether llama.cpp should compute logits for it
     */
    public int add(int token, int position, int sequence, boolean output) {
        if (size == capacity) {
            throw new IllegalStateException("batch is full (" + capacity + " tokens)");
        }
        int i = size++;
        tokens.setAtIndex(JAVA_INT, i, token);
        positions.setAtIndex(JAVA_INT, i, position);
        seqIds.setAtIndex(JAVA_INT, i, sequence);
        outputs.set(JAVA_BYTE, i, output ? (byte) 1 : 0);
        return i;
    }

    public void clear() {
        size = 0;
    }

    /** Takes the last token added back out. */
    public void removeLast() {
        if (size == 0) {
            throw new IllegalStateException("batch is empty");
        }
        size--;
    }

    public int size() {
        return size;
    }

    public int capacity() {
        return capacity;
    }

    public int token(int i) {
        return tokens.getAtIndex(JAVA_INT, i);
    }

    public int sequence(int i) {
        return seqIds.getAtIndex(JAVA_INT, i);
    }

    /** The struct to pass by value, with {@code n_tokens} set; runner thread only. */
    MemorySegment struct() {
        if (closed.get()) {
            throw new IllegalStateException("batch is closed");
        }
        struct.set(JAVA_INT, 0, size);
        return struct;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }
}
