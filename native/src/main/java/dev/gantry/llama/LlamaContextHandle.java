package dev.gantry.llama;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A llama.cpp context ({@code llama_context *}): the KV cache and compute buffers for one model. Owns it:
 * {@link #close()} frees it once; calls after that throw.
 *
 * <p>Runner thread only: llama.cpp contexts are not thread-safe, so exactly one thread decodes, samples and edits
 * the memory of a context. {@link #close()} must also run on that thread, or after it has stopped.
 */
public final class LlamaContextHandle implements AutoCloseable {
    private final LlamaModelHandle model;
    private final MemorySegment ctx;
    private final MemorySegment memory;
    private final int vocabSize;
    private final int embeddingSize;
    private final AtomicBoolean closed = new AtomicBoolean();

    private LlamaContextHandle(LlamaModelHandle model, MemorySegment ctx) throws Throwable {
        this.model = model;
        this.ctx = ctx;
        this.memory = (MemorySegment) Fn.llama_get_memory.invokeExact(ctx);
        this.vocabSize = model.vocabSize();
        this.embeddingSize = model.embeddingOutputLength();
    }

    public static LlamaContextHandle create(LlamaModelHandle model, ContextParams params) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = (MemorySegment) Fn.llama_context_default_params.invokeExact((SegmentAllocator) arena);
            set(p, "n_ctx", params.contextSize());
            set(p, "n_batch", params.batchSize());
            set(p, "n_ubatch", params.ubatchSize());
            set(p, "n_seq_max", params.maxSequences());
            set(p, "n_threads", params.threads());
            set(p, "n_threads_batch", params.threadsBatch());
            set(p, "flash_attn_type", params.flashAttention());
            set(p, "type_k", params.kvType());
            set(p, "type_v", params.kvType());
            set(p, "pooling_type", params.poolingType());
            p.set(JAVA_BOOLEAN, Layouts.offset(Layouts.CONTEXT_PARAMS, "kv_unified"), params.kvUnified());
            p.set(JAVA_BOOLEAN, Layouts.offset(Layouts.CONTEXT_PARAMS, "embeddings"), params.embeddings());
            p.set(JAVA_BOOLEAN, Layouts.offset(Layouts.CONTEXT_PARAMS, "offload_kqv"), params.offloadKqv());
            MemorySegment c = (MemorySegment) Fn.llama_init_from_model.invokeExact(model.pointer(), p);
            if (c.equals(MemorySegment.NULL)) {
                throw new LlamaException("llama_init_from_model(n_ctx=" + params.contextSize() + ", n_seq_max="
                        + params.maxSequences() + ") failed" + LlamaCpp.lastNativeError().map(e -> ": " + e).orElse(""));
            }
            LlamaContextHandle handle = new LlamaContextHandle(model, c);
            java.util.List<LlamaModelHandle.Adapter> adapters = model.adapters();
            if (!adapters.isEmpty()) {
                MemorySegment pointers = arena.allocate(ADDRESS, adapters.size());
                MemorySegment scales = arena.allocate(JAVA_FLOAT, adapters.size());
                for (int i = 0; i < adapters.size(); i++) {
                    pointers.setAtIndex(ADDRESS, i, adapters.get(i).pointer());
                    scales.setAtIndex(JAVA_FLOAT, i, adapters.get(i).scale());
                }
                int status = (int) Fn.llama_set_adapters_lora.invokeExact(c, pointers, (long) adapters.size(), scales);
                if (status != 0) {
                    handle.close();
                    throw new LlamaException("llama_set_adapters_lora failed (" + status + ")"
                            + LlamaCpp.lastNativeError().map(e -> ": " + e).orElse(""));
                }
            }
            return handle;
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_init_from_model", t);
        }
    }

    private static void set(MemorySegment p, String field, int value) {
        p.set(JAVA_INT, Layouts.offset(Layouts.CONTEXT_PARAMS, field), value);
    }

    public LlamaModelHandle model() {
        return model;
    }

    MemorySegment pointer() {
        if (closed.get()) {
            throw new IllegalStateException("context is closed");
        }
        return ctx;
    }

    /**
     * Decodes a batch. Returns 0 on success, 1 when no KV slot was free for it (nothing was kept), 2 when aborted.
     *
     * @throws LlamaException for an invalid batch (-1) or a fatal error (below -1)
     */
    public int decode(LlamaBatch batch) {
        int rc;
        try {
            rc = (int) Fn.llama_decode.invokeExact(pointer(), batch.struct());
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_decode", t);
        }
        if (rc < 0) {
            throw new LlamaException("llama_decode(" + batch.size() + " tokens) returned " + rc
                    + LlamaCpp.lastNativeError().map(e -> ": " + e).orElse(""));
        }
        return rc;
    }

    /**
     * Waits until the last decode's work on the device is done ({@code llama_decode} returns once the work is
     * queued). Reading outputs waits too; calling this first lets a caller tell the device's time from its own.
     */
    public void synchronize() {
        try {
            Fn.llama_synchronize.invokeExact(pointer());
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_synchronize", t);
        }
    }

    /** The logits of output {@code i} of the last decode, valid until the next decode. */
    public MemorySegment logits(int i) {
        try {
            MemorySegment l = (MemorySegment) Fn.llama_get_logits_ith.invokeExact(pointer(), i);
            if (l.equals(MemorySegment.NULL)) {
                throw new LlamaException("llama_get_logits_ith(" + i + ") returned NULL");
            }
            return l.reinterpret(JAVA_FLOAT.byteSize() * vocabSize);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_get_logits_ith", t);
        }
    }

    /**
     * Turns embedding output on or off for the next decodes. While on, llama.cpp outputs every token of a batch
     * (logits and embeddings), whatever the batch's output flags say.
     */
    public void setEmbeddings(boolean on) {
        try {
            Fn.llama_set_embeddings.invokeExact(pointer(), on);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_set_embeddings", t);
        }
    }

    /** The context's pooling type ({@code enum llama_pooling_type}: 0 none, 1 mean, 2 CLS, 3 last, 4 rank). */
    public int poolingType() {
        try {
            return (int) Fn.llama_pooling_type.invokeExact(pointer());
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_pooling_type", t);
        }
    }

    /**
     * The embedding of batch token {@code i} of the last decode (made with embeddings on and pooling none),
     * {@code model().embeddingOutputLength()} floats, valid until the next decode.
     */
    public MemorySegment embedding(int i) {
        try {
            MemorySegment e = (MemorySegment) Fn.llama_get_embeddings_ith.invokeExact(pointer(), i);
            if (e.equals(MemorySegment.NULL)) {
                throw new LlamaException("llama_get_embeddings_ith(" + i + ") returned NULL (embeddings off?)");
            }
            return e.reinterpret(JAVA_FLOAT.byteSize() * embeddingSize);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_get_embeddings_ith", t);
        }
    }

    /**
     * The pooled embedding of a sequence from the last decode (pooling mean, CLS or last), or empty with pooling
     * none. Covers only the sequence's tokens of that decode's last micro-batch.
     */
    public java.util.Optional<MemorySegment> sequenceEmbedding(int sequence) {
        try {
            MemorySegment e = (MemorySegment) Fn.llama_get_embeddings_seq.invokeExact(pointer(), sequence);
            return e.equals(MemorySegment.NULL) ? java.util.Optional.empty()
                    : java.util.Optional.of(e.reinterpret(JAVA_FLOAT.byteSize() * embeddingSize));
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_get_embeddings_seq", t);
        }
    }

    /**
     * The first {@code floats} of a sequence's pooled output from the last decode (a reranker's rank pooling gives
     * {@code llama_model_n_cls_out} scores), or empty where there is none.
     */
    public java.util.Optional<MemorySegment> sequenceOutput(int sequence, int floats) {
        try {
            MemorySegment e = (MemorySegment) Fn.llama_get_embeddings_seq.invokeExact(pointer(), sequence);
            return e.equals(MemorySegment.NULL) ? java.util.Optional.empty()
                    : java.util.Optional.of(e.reinterpret(JAVA_FLOAT.byteSize() * floats));
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_get_embeddings_seq", t);
        }
    }

    /** Attaches a backend (on-device) sampler chain to a sequence; the chain must outlive its use. */
    public boolean setBackendSampler(int sequence, LlamaSampler chain) {
        try {
            MemorySegment c = chain == null ? MemorySegment.NULL : chain.pointer();
            return (boolean) Fn.llama_set_sampler.invokeExact(pointer(), sequence, c);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_set_sampler", t);
        }
    }

    /** The token the backend sampler chose for output {@code i}, or -1 when none was sampled. */
    public int backendSampledToken(int i) {
        try {
            return (int) Fn.llama_get_sampled_token_ith.invokeExact(pointer(), i);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_get_sampled_token_ith", t);
        }
    }

    /** Removes a sequence's cells in positions [p0, p1) (negative: open-ended); removing all never fails. */
    public boolean removeSequence(int sequence, int p0, int p1) {
        try {
            return (boolean) Fn.llama_memory_seq_rm.invokeExact(memory(), sequence, p0, p1);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_memory_seq_rm", t);
        }
    }

    /** Adds {@code delta} to the positions of a sequence's cells in [p0, p1) (negative p1: open-ended). */
    public void shiftPositions(int sequence, int p0, int p1, int delta) {
        try {
            Fn.llama_memory_seq_add.invokeExact(memory(), sequence, p0, p1, delta);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_memory_seq_add", t);
        }
    }

    /** Whether the memory can move cells to other positions ({@link #shiftPositions}); not every model's can. */
    public boolean canShift() {
        try {
            return (boolean) Fn.llama_memory_can_shift.invokeExact(memory());
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_memory_can_shift", t);
        }
    }

    public void copySequence(int source, int target, int p0, int p1) {
        try {
            Fn.llama_memory_seq_cp.invokeExact(memory(), source, target, p0, p1);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_memory_seq_cp", t);
        }
    }

    /** The highest position a sequence holds in the KV cache, or -1 when it holds none. */
    public int sequenceMaxPosition(int sequence) {
        try {
            return (int) Fn.llama_memory_seq_pos_max.invokeExact(memory(), sequence);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_memory_seq_pos_max", t);
        }
    }

    public int sequenceMinPosition(int sequence) {
        try {
            return (int) Fn.llama_memory_seq_pos_min.invokeExact(memory(), sequence);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_memory_seq_pos_min", t);
        }
    }

    public void clearMemory() {
        try {
            Fn.llama_memory_clear.invokeExact(memory(), true);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_memory_clear", t);
        }
    }

    private MemorySegment memory() {
        pointer();
        return memory;
    }

    public int contextSize() {
        return intCall(0);
    }

    /**
     * Whether llama.cpp made this context a KV cache. An encoder-only model (BERT and its kin) has none: a decode of
     * it runs the encoder over the whole batch in one pass (at most {@link #ubatchSize()} tokens, which llama.cpp
     * asserts, ending the process), each sequence attending to all of its own tokens and to nothing earlier.
     */
    public boolean hasMemory() {
        return !memory.equals(MemorySegment.NULL);
    }

    public int contextSizePerSequence() {
        return intCall(1);
    }

    public int batchSize() {
        return intCall(2);
    }

    public int ubatchSize() {
        return intCall(3);
    }

    public int maxSequences() {
        return intCall(4);
    }

    public int threads() {
        return intCall(5);
    }

    private int intCall(int which) {
        try {
            MemorySegment c = pointer();
            return switch (which) {
                case 0 -> (int) Fn.llama_n_ctx.invokeExact(c);
                case 1 -> (int) Fn.llama_n_ctx_seq.invokeExact(c);
                case 2 -> (int) Fn.llama_n_batch.invokeExact(c);
                case 3 -> (int) Fn.llama_n_ubatch.invokeExact(c);
                case 4 -> (int) Fn.llama_n_seq_max.invokeExact(c);
                default -> (int) Fn.llama_n_threads.invokeExact(c);
            };
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_n_*", t);
        }
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                Fn.llama_free.invokeExact(ctx);
            } catch (Throwable t) {
                throw NativeStrings.rethrow("llama_free", t);
            }
        }
    }

    public boolean isClosed() {
        return closed.get();
    }
}
