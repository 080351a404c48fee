package dev.gantry.llama;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BOOLEAN;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A llama.cpp sampler chain ({@code llama_sampler *}). Owns the chain and every sampler added to it;
 * {@link #close()} frees them once. Not thread-safe: the runner that owns the sequence uses it.
 */
public final class LlamaSampler implements AutoCloseable {
    private final MemorySegment chain;
    private final boolean hasGrammar;
    private final AtomicBoolean closed = new AtomicBoolean();
    // candidates for allows/applyTo, made on first use and freed with the chain
    private static final long TOKEN_BYTES = Layouts.TOKEN_DATA.byteSize();
    private static final long ID = Layouts.offset(Layouts.TOKEN_DATA, "id");
    private static final long LOGIT = Layouts.offset(Layouts.TOKEN_DATA, "logit");
    private Arena buffers;
    private MemorySegment header;
    private MemorySegment data;

    private LlamaSampler(MemorySegment chain, boolean hasGrammar) {
        this.chain = chain;
        this.hasGrammar = hasGrammar;
    }

    public static Builder chain() {
        LlamaCpp.get();
        return new Builder();
    }

    /** Samples output {@code idx} of the last decode on {@code ctx} and accepts the token into the chain. */
    public int sample(LlamaContextHandle ctx, int idx) {
        try {
            return (int) Fn.llama_sampler_sample.invokeExact(pointer(), ctx.pointer(), idx);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_sampler_sample", t);
        }
    }

    /** Feeds a token to the chain's state (penalties, grammar) without sampling. */
    public void accept(int token) {
        try {
            Fn.llama_sampler_accept.invokeExact(pointer(), token);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_sampler_accept", t);
        }
    }

    /**
     * Whether the chain leaves {@code token} possible: applies it to that one candidate and sees whether its logit
     * became -inf (what a grammar does to a token that cannot come next). Cheap next to {@link #applyTo}: a
     * grammar checks one token instead of the vocabulary.
     */
    public boolean allows(int token) {
        MemorySegment data = candidates(1);
        data.set(JAVA_INT, ID, token);
        data.set(JAVA_FLOAT, LOGIT, 0f);
        apply(1);
        return data.get(JAVA_FLOAT, LOGIT) != Float.NEGATIVE_INFINITY;
    }

    /**
     * Applies the chain to every token of {@code logits} (indexed by token id) and writes back what it left: a
     * grammar sets each token that cannot come next to -inf. Tokens at -inf or NaN are not offered (and stay).
     */
    public void applyTo(float[] logits) {
        MemorySegment data = candidates(logits.length);
        int n = 0;
        for (int id = 0; id < logits.length; id++) {
            if (logits[id] > Float.NEGATIVE_INFINITY) {
                long at = n++ * TOKEN_BYTES;
                data.set(JAVA_INT, at + ID, id);
                data.set(JAVA_FLOAT, at + LOGIT, logits[id]);
            }
        }
        apply(n);
        for (int i = 0; i < n; i++) {
            long at = i * TOKEN_BYTES;
            logits[data.get(JAVA_INT, at + ID)] = data.get(JAVA_FLOAT, at + LOGIT);
        }
    }

    /** The candidates' storage, for at least {@code n}; the array header points at it. */
    private MemorySegment candidates(int n) {
        pointer();
        if (buffers == null) {
            buffers = Arena.ofShared(); // a step's host samplers run on several threads, one sequence each
            header = buffers.allocate(Layouts.TOKEN_DATA_ARRAY);
        }
        if (data == null || data.byteSize() < n * TOKEN_BYTES) {
            data = buffers.allocate(Layouts.TOKEN_DATA, Math.max(n, 1));
        }
        return data;
    }

    private void apply(int n) {
        header.set(ADDRESS, Layouts.offset(Layouts.TOKEN_DATA_ARRAY, "data"), data);
        header.set(JAVA_LONG, Layouts.offset(Layouts.TOKEN_DATA_ARRAY, "size"), n);
        header.set(JAVA_LONG, Layouts.offset(Layouts.TOKEN_DATA_ARRAY, "selected"), -1L);
        header.set(JAVA_BOOLEAN, Layouts.offset(Layouts.TOKEN_DATA_ARRAY, "sorted"), false);
        try {
            Fn.llama_sampler_apply.invokeExact(pointer(), header);
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_sampler_apply", t);
        }
        if (header.get(ADDRESS, Layouts.offset(Layouts.TOKEN_DATA_ARRAY, "data")).address() != data.address()
                || header.get(JAVA_LONG, Layouts.offset(Layouts.TOKEN_DATA_ARRAY, "size")) != n) {
            // samplers may move the pointer or shrink the size; a grammar does neither, and these methods are
            // for a chain of a grammar alone
            throw new IllegalStateException("llama_sampler_apply reordered or cut the candidates");
        }
    }

    public void reset() {
        try {
            Fn.llama_sampler_reset.invokeExact(pointer());
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_sampler_reset", t);
        }
    }

    public int length() {
        try {
            return (int) Fn.llama_sampler_chain_n.invokeExact(pointer());
        } catch (Throwable t) {
            throw NativeStrings.rethrow("llama_sampler_chain_n", t);
        }
    }

    public boolean hasGrammar() {
        return hasGrammar;
    }

    MemorySegment pointer() {
        if (closed.get()) {
            throw new IllegalStateException("sampler is closed");
        }
        return chain;
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                Fn.llama_sampler_free.invokeExact(chain);
            } catch (Throwable t) {
                throw NativeStrings.rethrow("llama_sampler_free", t);
            } finally {
                if (buffers != null) {
                    buffers.close();
                }
            }
        }
    }

    /**
     * Builds a chain in the order samplers are added. The chain is created on {@link #build()}; a failure there
     * frees everything created so far.
     */
    public static final class Builder {
        private final java.util.List<Step> steps = new java.util.ArrayList<>();
        private boolean grammar;

        private interface Step {
            MemorySegment create(Arena arena) throws Throwable;
        }

        private Builder() {}

        public Builder greedy() {
            steps.add(a -> (MemorySegment) Fn.llama_sampler_init_greedy.invokeExact());
            return this;
        }

        /** Draws from the distribution with a seeded generator (a final step, like greedy). */
        public Builder dist(int seed) {
            steps.add(a -> (MemorySegment) Fn.llama_sampler_init_dist.invokeExact(seed));
            return this;
        }

        public Builder topK(int k) {
            steps.add(a -> (MemorySegment) Fn.llama_sampler_init_top_k.invokeExact(k));
            return this;
        }

        public Builder topP(float p, long minKeep) {
            steps.add(a -> (MemorySegment) Fn.llama_sampler_init_top_p.invokeExact(p, minKeep));
            return this;
        }

        public Builder minP(float p, long minKeep) {
            steps.add(a -> (MemorySegment) Fn.llama_sampler_init_min_p.invokeExact(p, minKeep));
            return this;
        }

        public Builder typical(float p, long minKeep) {
            steps.add(a -> (MemorySegment) Fn.llama_sampler_init_typical.invokeExact(p, minKeep));
            return this;
        }

        public Builder temperature(float t) {
            steps.add(a -> (MemorySegment) Fn.llama_sampler_init_temp.invokeExact(t));
            return this;
        }

        public Builder penalties(int vocabSize, int lastN, float repeat, float frequency, float presence) {
            steps.add(a -> (MemorySegment) Fn.llama_sampler_init_penalties.invokeExact(vocabSize, lastN, repeat,
                    frequency, presence));
            return this;
        }

        /** Adds {@code bias} to the logits of the given tokens ({@code -Infinity} bans them). */
        public Builder logitBias(int vocabSize, int[] tokens, float bias) {
            int[] ts = tokens.clone();
            steps.add(a -> {
                MemorySegment arr = a.allocate(8L * Math.max(1, ts.length), 4);
                for (int i = 0; i < ts.length; i++) {
                    arr.set(java.lang.foreign.ValueLayout.JAVA_INT, 8L * i, ts[i]);
                    arr.set(java.lang.foreign.ValueLayout.JAVA_FLOAT, 8L * i + 4, bias);
                }
                return (MemorySegment) Fn.llama_sampler_init_logit_bias.invokeExact(vocabSize, ts.length, arr);
            });
            return this;
        }

        /** A GBNF grammar; {@link #build()} throws {@link IllegalArgumentException} when llama.cpp rejects it. */
        public Builder grammar(LlamaModelHandle model, String gbnf, String root) {
            grammar = true;
            steps.add(a -> (MemorySegment) Fn.llama_sampler_init_grammar.invokeExact(model.vocabPointer(),
                    a.allocateFrom(gbnf), a.allocateFrom(root)));
            return this;
        }

        public LlamaSampler build() {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment params = (MemorySegment) Fn.llama_sampler_chain_default_params.invokeExact((SegmentAllocator) arena);
                params.set(java.lang.foreign.ValueLayout.JAVA_BOOLEAN, 0, true); // no_perf
                MemorySegment chain = (MemorySegment) Fn.llama_sampler_chain_init.invokeExact(params);
                LlamaSampler sampler = new LlamaSampler(chain, grammar);
                for (Step step : steps) {
                    MemorySegment s = step.create(arena);
                    if (s.equals(MemorySegment.NULL)) {
                        sampler.close();
                        throw new IllegalArgumentException("llama.cpp rejected a sampler"
                                + LlamaCpp.lastNativeError().map(e -> ": " + e).orElse(""));
                    }
                    Fn.llama_sampler_chain_add.invokeExact(chain, s);
                }
                return sampler;
            } catch (Throwable t) {
                throw NativeStrings.rethrow("llama_sampler_chain_init", t);
            }
        }
    }
}
