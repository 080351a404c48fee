package dev.gantry.runtime.engine.llama;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.gantry.llama.ContextParams;
import dev.gantry.llama.LlamaBatch;
import dev.gantry.llama.LlamaContextHandle;
import dev.gantry.llama.LlamaModelHandle;
import dev.gantry.llama.LlamaSampler;
import dev.gantry.runtime.engine.EngineSession;
import dev.gantry.runtime.engine.SamplingException;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.engine.SequenceSampler;
import dev.gantry.runtime.engine.SessionParams;
import dev.gantry.runtime.sampling.AfterHarmonyFinal;
import dev.gantry.runtime.sampling.AfterThinking;
import dev.gantry.runtime.sampling.ParallelSampling;
import dev.gantry.runtime.sampling.ThinkTags;
import dev.gantry.runtime.sampling.TokenSampler;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;


/**
 * A llama.cpp context (one KV stream a sequence unless the configuration asks for one shared by all) and one reusable
 * batch. Runner thread only.
 *
 * <p>Sampling runs on the device (llama.cpp's backend sampling: only token ids come back) when the session asks for
 * it and the request needs no repetition penalty and no grammar; otherwise on the host, in Java
 * ({@link TokenSampler}) from the logits rows, a step's sequences on several cores at once. A grammar is kept by
 * llama.cpp's grammar sampler ({@link GrammarConstraint}), asked about the drawn token first and applied to the
 * whole vocabulary only when it rejects that token. All pick the same token under greedy decoding.
 */
final class LlamaCppSession implements EngineSession {
    private final LlamaModelHandle model;
    private final LlamaContextHandle ctx;
    private final LlamaBatch batch;
    private final boolean backendSampling;
    private final boolean onGpu;
    /** See {@link #decodesAhead()}. */
    private final boolean decodesAhead;
    /** Device chains by sequence slot; they outlive requests (see {@link #sameChain}). */
    private final LlamaSampler[] attached;
    private final SamplingParams[] attachedParams;
    // a step's host-sampled rows (reused; runner thread only)
    private MemorySegment[] rows = new MemorySegment[0];
    private int[] hostIndexes = new int[0];
    // a step's rows split over threads (few rows, idle cores): the parts handed out before the decode's end, for
    // which samplers and how many rows; each row's native source and whole-row copy
    private ParallelSampling.Prepared prepared;
    private SequenceSampler[] preparedFor;
    private int preparedParts;
    private MemorySegment[] splitSources = new MemorySegment[0];
    private float[][] splitRows = new float[0][];
    private final float[] embeddingRow;
    private boolean embeddingsOn;
    /** One KV stream a sequence, and cells that can be cut back: see {@link #fillsIdGaps}. */
    private final boolean separateStreams;
    private boolean fillsIdGaps;
    private final int microBatch;
    private final boolean wholeInputs;
    /** A reranker's scores a sequence (rank pooling), else 0. */
    private final int classifierOutputs;
    /** An encoder on a GPU: see {@link #decode()}. */
    private final boolean breaksGraphReplays;
    /** Tokens in the last pass (the filler included), for {@link #decode()}. */
    int lastPass = -1; // package-private: a test reads it
    /** The sequences the runner may use; the filler's sequence is the next id. */
    private final int maxSequences;
    // each batch token's sequence, for counting the passes llama.cpp makes of it
    private int[] sequenceOf = new int[0];
    private final MicroBatches microBatches = new MicroBatches();
    private long passes;

    /**
     * Flash attention for an encoder on a GPU: llama.cpp's auto, as for every model there ({@code
     * -Dgantry.encoderFlashAttention=0|1} for measuring; off made an mxbai-embed-large-shaped model 25 to 50% slower
     * under load on an H200, bench/RESULTS.md).
     */
    static final int ENCODER_FLASH_ATTENTION = Integer.getInteger("gantry.encoderFlashAttention", -1);

    /** {@code whollyOnGpu}: every layer on GPUs, so a decode runs apart from the host ({@link #decodesAhead()}). */
    LlamaCppSession(LlamaModelHandle model, SessionParams p, boolean onGpu, boolean whollyOnGpu,
                    boolean wholeInputs) {
        this.model = model;
        int batchCap = p.batchCapacity();
        // Flash attention: llama.cpp's "auto" turns it on for the CPU too, where it made the tiny model's decode
        // twice as slow (0.41 against 0.21 ms a token, 1 thread); on a GPU auto is the right choice.
        int flashAttention = !onGpu ? 0 : wholeInputs ? ENCODER_FLASH_ATTENTION : -1;
        // Embeddings are pooled by the runner from per-token outputs (pooling none), so an input may span steps and
        // share them with generations; a model that names no pooling type already gets none from llama.cpp. A
        // reranker's head runs in llama.cpp's graph (rank pooling, 4), over the decode that holds an input's end: an
        // encoder's input is in one decode whole, a decoder's (Qwen3-Reranker) may span steps, and the decode of its
        // last chunk scores its last token, which attends to the whole input through the KV cache.
        int pooling = model.poolingType() < 0 ? -1 : model.poolingType() == 4 ? 4 : 0;
        this.classifierOutputs = pooling == 4 ? model.classifierOutputs() : 0;
        // An encoder runs each decode in one pass, which llama.cpp asserts fits the micro-batch: it is the whole batch.
        this.wholeInputs = wholeInputs;
        this.maxSequences = p.maxSequences();
        this.breaksGraphReplays = wholeInputs && onGpu;
        // room for the filler token (see decode()) beyond what the runner may put in
        int llamaBatch = batchCap + (breaksGraphReplays ? 1 : 0);
        this.microBatch = wholeInputs ? llamaBatch : Math.min(512, batchCap);
        this.separateStreams = !p.kvUnified() && p.maxSequences() > 1;
        // a recurrent state cannot be cut back after a placeholder; an encoder-decoder model's decoder attends to
        // the encoder's output, which a placeholder's sequence does not have
        this.fillsIdGaps = separateStreams && !model.hasRecurrentState() && !model.hasEncoder() && !wholeInputs;
        ContextParams cp = new ContextParams(p.kvCells(), llamaBatch, microBatch,
                p.maxSequences() + (breaksGraphReplays ? 1 : 0),
                p.threads(), p.threads(), flashAttention, 1, p.kvUnified(), false, onGpu, pooling);
        this.ctx = LlamaContextHandle.create(model, cp);
        if (wholeInputs && ctx.ubatchSize() < llamaBatch) {
            // llama.cpp cut the batch (it does for a model it takes as causal): a whole pass would not fit its
            // micro-batch, which llama.cpp asserts, ending the process
            int got = ctx.ubatchSize();
            ctx.close();
            throw new IllegalStateException("llama.cpp gave this encoder a micro-batch of " + got + " tokens, not the "
                    + llamaBatch + " its passes take; it cannot serve it");
        }
        if (!ctx.hasMemory() && !wholeInputs) {
            ctx.close();
            throw new IllegalStateException("llama.cpp keeps no KV cache for this model's architecture ("
                    + model.metadata("general.architecture").orElse("?") + "), and Gantry does not know it as an "
                    + "encoder; it cannot serve it");
        }
        try {
            this.batch = LlamaBatch.allocate(llamaBatch);
        } catch (RuntimeException e) {
            ctx.close();
            throw e;
        }
        this.backendSampling = p.backendSampling();
        this.onGpu = onGpu;
        this.decodesAhead = decodesAhead(promptAhead, separateStreams && !backendSampling && !wholeInputs
                && !model.hasEncoder(), whollyOnGpu);
        this.embeddingRow = new float[model.embeddingOutputLength()];
        this.attached = new LlamaSampler[p.maxSequences()];
        this.attachedParams = new SamplingParams[p.maxSequences()];
        if (backendSampling) {
            // Attach Ollama's default chain to every slot before the first decode, so the sampling graphs are
            // built once; requests with the defaults never re-attach.
            try {
                for (int seq = 0; seq < attached.length; seq++) {
                    LlamaSampler chain = buildChain(SamplingParams.DEFAULTS);
                    if (!ctx.setBackendSampler(seq, chain)) {
                        chain.close();
                        break;
                    }
                    attached[seq] = chain;
                    attachedParams[seq] = SamplingParams.DEFAULTS;
                }
            } catch (RuntimeException e) {
                closeNative();
                throw e;
            }
        }
        // last: nothing after it may fail, so close() always waits for it before the engine frees the model
        this.thinkTags = java.util.concurrent.CompletableFuture.supplyAsync(
                () -> ThinkTags.of(model.vocabSize(), this::pieceText), r -> Thread.ofVirtual().start(r));
    }

    @Override
    public boolean wholeInputs() {
        return wholeInputs;
    }

    @Override
    public int kvCells() {
        return ctx.contextSize();
    }

    @Override
    public int maxSequences() {
        return maxSequences; // the context's may hold one more: the filler's (decode())
    }

    @Override
    public int batchCapacity() {
        return batch.capacity() - (breaksGraphReplays ? 1 : 0);
    }

    @Override
    public void clearBatch() {
        batch.clear();
    }

    @Override
    public int add(int token, int position, int sequence, boolean output) {
        int index = batch.add(token, position, sequence, output);
        if (index >= sequenceOf.length) {
            sequenceOf = java.util.Arrays.copyOf(sequenceOf, Math.max(16, 2 * (index + 1)));
        }
        sequenceOf[index] = sequence;
        return index;
    }

    @Override
    public int batchSize() {
        return batch.size();
    }

    @Override
    public DecodeStatus decode() {
        int n = batch.size();
        int split = separateStreams ? microBatches.count(sequenceOf, n, microBatch) : (n + microBatch - 1) / microBatch;
        // An encoder's pass on a GPU never has the shape of the pass before it: ggml's CUDA backend replays a captured
        // CUDA graph when two passes in a row have the same shapes, and replayed encoder passes failed ("an illegal
        // instruction was encountered", aborting the process, llama-server's as well) where none failed with graphs
        // off (bench/RESULTS.md, embeddings). One token of a sequence of its own changes the shape; its output is
        // never read, and it attends to nothing but itself. (Marked as an output: llama.cpp's encoder outputs every
        // token, and warns of each one not marked so.)
        boolean filler = breaksGraphReplays && n == lastPass;
        if (filler) {
            batch.add(0, 0, maxSequences, true);
        }
        lastPass = batch.size();
        int status = ctx.decode(batch);
        if (filler) {
            batch.removeLast();
        }
        if (status != 0) {
            return DecodeStatus.NO_KV_SLOT;
        }
        passes += split; // counted for decodes that ran (a unified cache's split is estimated by size alone)
        return DecodeStatus.OK;
    }

    /**
     * {@code -Dgantry.promptAhead}: {@code auto} (the default) decodes prompts ahead for a model wholly on GPUs;
     * {@code off} never (for measuring what it gains); {@code on} on the CPU too, for tests (there the decode's
     * threads and the sampling's share the cores, and llama.cpp's CPU decode returns only when it is done: nothing
     * overlaps). Read as each session opens (a test sets it).
     */
    static volatile String promptAhead = System.getProperty("gantry.promptAhead", "auto");

    /**
     * Whether a session decodes prompts ahead under {@code setting}: only with one KV stream a sequence (a unified
     * cache makes one pass of a step's tokens whatever they are, so a decode apart would be one pass more), host
     * sampling, a decoder-only model, and a model wholly on GPUs (a layer on the CPU is computed by llama.cpp's
     * threads inside the call, on the cores the sampling would take meanwhile).
     */
    static boolean decodesAhead(String setting, boolean possible, boolean whollyOnGpu) {
        return possible && ("on".equals(setting) || whollyOnGpu && !"off".equals(setting));
    }

    /**
     * With one KV stream a sequence, a step whose batch holds prompt chunks beside generating tokens is several
     * forward passes anyway (llama.cpp's equal split): one of a token from each sequence, then the chunks' rest. A
     * decode of the chunks' rest without outputs, queued once the step before has finished and before its outputs
     * are sampled, takes the same passes, and the device works through it while the host samples: a decode without
     * outputs leaves llama.cpp's logits rows where they are (it writes rows only for outputs, and its output buffer
     * only grows), and {@link #startSampling} has located them before.
     */
    @Override
    public boolean decodesAhead() {
        return decodesAhead;
    }

    @Override
    public PendingSamples startSampling(SequenceSampler[] samplers, int[] outputIndexes, int n, int[] tokens) {
        for (int i = 0; i < n; i++) {
            if (((Sampler) samplers[i]).host == null) {
                return null;
            }
        }
        cancelPrepared();
        // the pending work's own arrays: the caller's are reused from step to step
        MemorySegment[] sources = new MemorySegment[n];
        SequenceSampler[] mine = java.util.Arrays.copyOf(samplers, n);
        Throwable[] located = null;
        for (int i = 0; i < n; i++) {
            try {
                sources[i] = ctx.logits(outputIndexes[i]); // synchronizes: the decode is done by now anyway
            } catch (RuntimeException e) {
                located = located == null ? new Throwable[n] : located;
                located[i] = e;
            }
        }
        ParallelSampling.Running running = ParallelSampling.begin(n, j -> {
            if (sources[j] != null) {
                tokens[j] = ((Sampler) mine[j]).host.sample(sources[j]);
            }
        });
        Throwable[] unlocated = located;
        return () -> {
            Throwable[] failed = running.join();
            if (unlocated != null) {
                failed = failed == null ? unlocated : failed;
                for (int i = 0; i < n; i++) {
                    failed[i] = unlocated[i] != null ? unlocated[i] : failed[i];
                }
            }
            if (failed != null) {
                throw new SamplingException(failed);
            }
        };
    }

    @Override
    public boolean fillsIdGaps() {
        return fillsIdGaps;
    }

    @Override
    public boolean truncate(int sequence, int position) {
        if (ctx.removeSequence(sequence, position, -1)) {
            return true;
        }
        fillsIdGaps = false; // this memory refuses partial cuts after all
        return false;
    }

    /**
     * With one KV stream a sequence, no recurrent state and no device sampler chains (those are attached to a slot).
     * llama.cpp copies the whole stream on the device at the next decode: 2 x layers x 2 MB for an 8B model's 1024
     * cells, well under a forward pass.
     */
    @Override
    public boolean movesSequences() {
        return fillsIdGaps && !backendSampling;
    }

    @Override
    public void moveSequence(int from, int to) {
        ctx.copySequence(from, to, -1, -1);
        ctx.removeSequence(from, -1, -1);
    }

    @Override
    public boolean shift(int sequence, int keep, int discard) {
        if (!ctx.canShift() || !ctx.removeSequence(sequence, keep, keep + discard)) {
            return false;
        }
        ctx.shiftPositions(sequence, keep + discard, -1, -discard);
        return true;
    }

    @Override
    public long forwardPasses() {
        return passes;
    }

    @Override
    public SequenceSampler newSampler(int sequence, SamplingParams p, int[] history) {
        return newSampler(sequence, p, history, history.length);
    }

    @Override
    public SequenceSampler newSampler(int sequence, SamplingParams p, int[] history, int promptLength) {
        return newSampler(sequence, p, history, promptLength, true);
    }

    @Override
    public SequenceSampler newHostSampler(int sequence, SamplingParams p, int[] history, int promptLength) {
        return newSampler(sequence, p, history, promptLength, false);
    }

    private float[] logprobRow = new float[0];

    @Override
    public dev.gantry.runtime.sampling.TokenLogprobs logprobs(int outputIndex, int token, int top) {
        int vocab = model.vocabSize();
        if (logprobRow.length < vocab) {
            logprobRow = new float[vocab];
        }
        return dev.gantry.runtime.sampling.TokenLogprobs.of(ctx.logits(outputIndex), vocab, token, top, logprobRow);
    }

    /** Rows looked up here one at a time (llama.cpp may reorder its outputs then), read on the sampling cores. */
    @Override
    public dev.gantry.runtime.sampling.TokenLogprobs[] logprobs(int[] outputIndexes, int[] tokens, int[] tops, int n) {
        var rows = new java.lang.foreign.MemorySegment[n];
        for (int i = 0; i < n; i++) {
            rows[i] = ctx.logits(outputIndexes[i]);
        }
        return dev.gantry.runtime.sampling.TokenLogprobs.ofRows(rows, model.vocabSize(), tokens, tops, n);
    }

    private SequenceSampler newSampler(int sequence, SamplingParams p, int[] history, int promptLength,
                                       boolean deviceAllowed) {
        if (deviceAllowed && backendSampling && !p.penalized() && p.grammar() == null) {
            LlamaSampler chain = attached[sequence];
            if (chain != null && sameChain(attachedParams[sequence], p)) {
                if (p.seed() >= 0) {
                    chain.reset(); // the same seed replays the same draws
                }
                return new Sampler(sequence, chain);
            }
            LlamaSampler fresh = buildChain(p);
            if (ctx.setBackendSampler(sequence, fresh)) {
                if (chain != null) {
                    chain.close();
                }
                attached[sequence] = fresh;
                attachedParams[sequence] = p;
                return new Sampler(sequence, fresh);
            }
            fresh.close(); // llama.cpp cannot run this chain on the device: sample on the host
        }
        detach(sequence);
        int[] banned = p.bansEndOfGeneration() ? model.endOfGenerationTokens() : new int[0];
        TokenSampler host = new TokenSampler(p, model.vocabSize(), banned, history);
        if (p.grammar() != null) {
            int from = Math.min(promptLength, history.length);
            int[] generated = java.util.Arrays.copyOfRange(history, from, history.length);
            SamplingParams.GrammarStart start = p.grammarStart();
            boolean atOnce = start == SamplingParams.GrammarStart.AT_ONCE;
            boolean harmony = start == SamplingParams.GrammarStart.AFTER_HARMONY_FINAL;
            // before the native grammar, which a failure would leak
            ThinkTags tags = atOnce || harmony ? null : thinkTags();
            GrammarConstraint grammar = new GrammarConstraint(model, p.grammar());
            host.constrainedBy(GrammarConstraint.resumed(atOnce ? grammar
                    : harmony ? new AfterHarmonyFinal(grammar, this::pieceText)
                    : new AfterThinking(grammar, this::pieceText, tags,
                            start == SamplingParams.GrammarStart.AFTER_OPENED_THINKING), generated));
        }
        return new Sampler(sequence, host);
    }

    /**
     * The vocabulary's reasoning-tag and whitespace tokens, found on a thread of their own when the session opens
     * (a pass over every token's text, tens of milliseconds for a 128K vocabulary, that would otherwise stall the
     * runner's steps at the first request that needs them).
     */
    private final java.util.concurrent.CompletableFuture<ThinkTags> thinkTags;

    private ThinkTags thinkTags() {
        return thinkTags.join();
    }

    private String pieceText(int token) {
        return new String(model.piece(token), StandardCharsets.UTF_8);
    }

    /**
     * Chains stay attached to their sequence slot after a request ends: attaching one makes llama.cpp rebuild its
     * sampling graphs at the next decode, which done at every request start and end made each step of 64
     * streams ten times slower on an H200. A request with the same parameters reuses the slot's chain.
     */
    private static boolean sameChain(SamplingParams a, SamplingParams b) {
        return a != null && (a.seed() < 0 ? b.seed() < 0 : a.seed() == b.seed())
                && withoutSeed(a).equals(withoutSeed(b));
    }

    private static SamplingParams withoutSeed(SamplingParams p) {
        return new SamplingParams(p.temperature(), p.topK(), p.topP(), p.minP(), p.typicalP(), -1, p.repeatPenalty(),
                p.repeatLastN(), p.presencePenalty(), p.frequencyPenalty(), p.ignoreEos(), p.grammar(), p.grammarStart());
    }

    private void detach(int sequence) {
        LlamaSampler chain = attached[sequence];
        if (chain != null) {
            ctx.setBackendSampler(sequence, null);
            chain.close();
            attached[sequence] = null;
            attachedParams[sequence] = null;
        }
    }

    /**
     * A device chain: never with a grammar or penalties (those sequences sample on the host). The banned end
     * tokens, then truncation and the draw.
     */
    private LlamaSampler buildChain(SamplingParams p) {
        LlamaSampler.Builder b = LlamaSampler.chain();
        if (p.bansEndOfGeneration()) {
            b.logitBias(model.vocabSize(), model.endOfGenerationTokens(), Float.NEGATIVE_INFINITY);
        }
        if (p.greedy()) {
            b.greedy();
        } else {
            if (p.topK() > 0) {
                b.topK(p.topK());
            }
            if (p.typicalP() < 1f) {
                b.typical(p.typicalP(), 1);
            }
            b.topP(p.topP(), 1).minP(p.minP(), 1).temperature(p.temperature());
            long seed = p.seed() < 0 ? ThreadLocalRandom.current().nextInt() & 0xffffffffL : p.seed();
            b.dist((int) seed);
        }
        return b.build();
    }

    @Override
    public int sample(SequenceSampler sampler, int outputIndex) {
        Sampler s = (Sampler) sampler;
        if (s.host != null) {
            return s.host.sample(ctx.logits(outputIndex));
        }
        int token = ctx.backendSampledToken(outputIndex);
        if (token >= 0) {
            s.chain.accept(token);
            return token;
        }
        return s.chain.sample(ctx, outputIndex);
    }

    /**
     * Device-sampled tokens are read on this thread; host-sampled ones are drawn from their logits rows on
     * several cores at once (the rows are fetched here first: llama.cpp's logits accessor synchronizes the
     * context and is not for concurrent use).
     */
    @Override
    public void sampleAll(SequenceSampler[] samplers, int[] outputIndexes, int n, int[] tokens) {
        if (prepared != null) {
            if (preparedFor(samplers, n)) {
                sampleSplit(samplers, outputIndexes, n, tokens);
                return;
            }
            cancelPrepared();
        }
        if (rows.length < n) {
            rows = new MemorySegment[Math.max(n, 2 * rows.length)];
            hostIndexes = new int[rows.length];
        }
        Throwable[] failures = null;
        int hosts = 0;
        for (int i = 0; i < n; i++) {
            Sampler s = (Sampler) samplers[i];
            try {
                if (s.host == null) {
                    tokens[i] = sample(s, outputIndexes[i]);
                } else {
                    rows[hosts] = ctx.logits(outputIndexes[i]);
                    hostIndexes[hosts++] = i;
                }
            } catch (RuntimeException e) {
                failures = failures == null ? new Throwable[n] : failures;
                failures[i] = e;
            }
        }
        MemorySegment[] r = rows;
        int[] at = hostIndexes;
        Throwable[] pool = ParallelSampling.forEach(hosts,
                j -> tokens[at[j]] = ((Sampler) samplers[at[j]]).host.sample(r[j]));
        java.util.Arrays.fill(rows, 0, hosts, null);
        if (pool != null) {
            failures = failures == null ? new Throwable[n] : failures;
            for (int j = 0; j < hosts; j++) {
                if (pool[j] != null) {
                    failures[at[j]] = pool[j];
                }
            }
        }
        if (failures != null) {
            throw new SamplingException(failures);
        }
    }

    /**
     * A step of few rows, all sampled on the host, of a model on a GPU, on a host with idle cores: each row's copy
     * and scan is handed out now as one part or several, before the runner waits for the device, so the threads are
     * waiting when the rows arrive ({@link ParallelSampling#prepare}); {@link #sampleAll} then starts them and
     * merges and draws each row.
     */
    @Override
    public void prepareSampling(SequenceSampler[] samplers, int[] outputIndexes, int n) {
        cancelPrepared();
        // on the CPU the decode's own threads need the cores that waiting parts would spin on
        int parts = onGpu || ParallelSampling.partsForced() ? ParallelSampling.partsPerRow(n) : 0;
        if (parts < 1) {
            return;
        }
        for (int i = 0; i < n; i++) {
            TokenSampler host = ((Sampler) samplers[i]).host;
            if (host == null || !host.splittable()) {
                return;
            }
        }
        if (splitRows.length < n) {
            splitRows = java.util.Arrays.copyOf(splitRows, n);
            splitSources = new MemorySegment[n];
        }
        for (int i = 0; i < n; i++) {
            if (splitRows[i] == null || splitRows[i].length != model.vocabSize()) {
                splitRows[i] = new float[model.vocabSize()];
            }
            ((Sampler) samplers[i]).host.beginSplit(parts);
        }
        MemorySegment[] sources = splitSources;
        float[][] copies = splitRows;
        // the parts' own references: the caller's array is reused from step to step
        SequenceSampler[] mine = java.util.Arrays.copyOf(samplers, n);
        prepared = ParallelSampling.prepare(n * parts,
                t -> ((Sampler) mine[t / parts]).host.scanPart(sources[t / parts], copies[t / parts], t % parts));
        preparedParts = parts;
        preparedFor = mine;
    }

    /** Whether the prepared parts are for exactly these samplers. */
    private boolean preparedFor(SequenceSampler[] samplers, int n) {
        if (preparedFor.length != n) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            if (preparedFor[i] != samplers[i]) {
                return false;
            }
        }
        return true;
    }

    private void cancelPrepared() {
        if (prepared != null) {
            prepared.cancel();
            prepared = null;
            preparedFor = null;
        }
    }

    /** Starts the prepared parts on the step's rows, then merges and draws each row here. */
    private void sampleSplit(SequenceSampler[] samplers, int[] outputIndexes, int n, int[] tokens) {
        int parts = preparedParts;
        Throwable[] failures = null;
        try {
            for (int i = 0; i < n; i++) {
                try {
                    splitSources[i] = ctx.logits(outputIndexes[i]);
                } catch (RuntimeException e) {
                    splitSources[i] = null; // its parts fail; the row fails with this
                    failures = failures == null ? new Throwable[n] : failures;
                    failures[i] = e;
                }
            }
        } catch (Error e) {
            cancelPrepared(); // the parts must not wait for a start that never comes
            throw e;
        }
        ParallelSampling.Prepared p = prepared;
        prepared = null;
        preparedFor = null;
        Throwable[] partFailures = p.start();
        for (int i = 0; i < n; i++) {
            Throwable failed = failures == null ? null : failures[i];
            for (int q = 0; partFailures != null && q < parts && failed == null; q++) {
                failed = partFailures[i * parts + q];
            }
            if (failed == null) {
                try {
                    tokens[i] = ((Sampler) samplers[i]).host.finishSplit(splitRows[i]);
                } catch (RuntimeException e) {
                    failed = e;
                }
            }
            if (failed != null) {
                failures = failures == null ? new Throwable[n] : failures;
                failures[i] = failed;
            }
        }
        java.util.Arrays.fill(splitSources, 0, n, null);
        if (failures != null) {
            throw new SamplingException(failures);
        }
    }

    @Override
    public void synchronize() {
        try {
            ctx.synchronize();
        } catch (RuntimeException | Error e) {
            cancelPrepared(); // no sampling follows a failed wait
            throw e;
        }
    }

    @Override
    public void embeddings(boolean on) {
        if (on != embeddingsOn) {
            ctx.setEmbeddings(on);
            embeddingsOn = on;
        }
    }

    @Override
    public void sequenceScores(int sequence, float[] out) {
        if (classifierOutputs == 0) {
            throw new UnsupportedOperationException("this session does not score (not a reranker's)");
        }
        MemorySegment scores = ctx.sequenceOutput(sequence, classifierOutputs).orElseThrow(
                () -> new dev.gantry.llama.LlamaException("llama.cpp gave sequence " + sequence + " no scores"));
        MemorySegment.copy(scores, JAVA_FLOAT, 0, out, 0, Math.min(out.length, classifierOutputs));
    }

    @Override
    public void addEmbedding(int batchIndex, float[] sum) {
        MemorySegment.copy(ctx.embedding(batchIndex), JAVA_FLOAT, 0, embeddingRow, 0, embeddingRow.length);
        for (int d = 0; d < sum.length; d++) {
            sum[d] += embeddingRow[d];
        }
    }

    /**
     * A slot's device chain would sample the embedding input's outputs, and llama.cpp refuses more than one
     * output per sampled sequence: the chain is detached (the next generation in the slot attaches one again).
     */
    @Override
    public void beginEmbedding(int sequence) {
        detach(sequence);
    }

    @Override
    public boolean embeddingsApartFromPrompts() {
        return backendSampling;
    }

    @Override
    public void freeSequence(int sequence) {
        ctx.removeSequence(sequence, -1, -1);
    }

    @Override
    public boolean keepPrefix(int sequence, int keep) {
        if (!ctx.removeSequence(sequence, keep, -1)) {
            return false; // a recurrent state cannot be cut at a position
        }
        // a sliding-window cache drops positions behind its window: the prefix must still start at 0
        return keep == 0 || ctx.sequenceMinPosition(sequence) == 0;
    }

    @Override
    public void close() {
        cancelPrepared();
        // the tag search reads the model's vocabulary: done before the engine may free it
        thinkTags.handle((tags, e) -> null).join();
        closeNative();
    }

    private void closeNative() {
        batch.close();
        ctx.close();
        for (LlamaSampler chain : attached) {
            if (chain != null) {
                chain.close(); // after the context that pointed to it
            }
        }
    }

    /** A sequence's sampler: a device chain attached to its slot, or a {@link TokenSampler} on the host. */
    private static final class Sampler implements SequenceSampler {
        final int sequence;
        final LlamaSampler chain;
        final TokenSampler host;

        Sampler(int sequence, LlamaSampler deviceChain) {
            this.sequence = sequence;
            this.chain = deviceChain;
            this.host = null;
        }

        Sampler(int sequence, TokenSampler host) {
            this.sequence = sequence;
            this.chain = null;
            this.host = host;
        }

        @Override
        public int sequence() {
            return sequence;
        }

        @Override
        public boolean onDevice() {
            return host == null;
        }

        /** A host sampler (and its grammar) is freed with its request; a device chain stays with its slot. */
        @Override
        public void close() {
            if (host != null) {
                host.close();
            }
        }
    }
}
