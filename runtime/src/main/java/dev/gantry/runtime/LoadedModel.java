package dev.gantry.runtime;

import dev.gantry.models.LocalModel;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.runner.GenerationHandle;
import dev.gantry.runtime.runner.GenerationObserver;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.Runner;
import dev.gantry.runtime.runner.RunnerStats;
import dev.gantry.runtime.route.ReplicaLoad;
import dev.gantry.runtime.route.RouteDecision;
import dev.gantry.runtime.route.RouteRequest;
import dev.gantry.runtime.route.RouteStrategy;
import dev.gantry.runtime.route.Router;
import dev.gantry.runtime.runner.QueueFullException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A model in memory: one or more replicas (each an engine and the runner that batches its requests), and the
 * choice of replica for each request. Thread-safe. Created and unloaded by {@link ModelManager}; a generation
 * submitted after unloading fails with {@link IllegalStateException}.
 */
public final class LoadedModel {
    private final LocalModel model;
    private final List<Replica> replicas;
    private final double[] weights;
    private final Engine engine;
    private final Runner runner;
    private volatile Router router = new Router(RouteStrategy.LEAST_LOADED);
    private final long loadNanos;
    private final Instant loadedAt;
    private volatile long lastUsedNanos;
    private volatile long keepAliveNanos;

    private final java.util.function.IntToDoubleFunction gpuMemoryUsed;
    private final LoadOptions loadOptions;

    LoadedModel(LocalModel model, List<Replica> replicas, long loadNanos, long keepAliveNanos,
                java.util.function.IntToDoubleFunction gpuMemoryUsed, LoadOptions loadOptions) {
        this.gpuMemoryUsed = gpuMemoryUsed;
        this.loadOptions = loadOptions;
        this.model = model;
        this.replicas = List.copyOf(replicas);
        this.weights = weights(this.replicas);
        this.engine = this.replicas.getFirst().engine();
        this.runner = this.replicas.getFirst().runner();
        this.loadNanos = loadNanos;
        this.loadedAt = Instant.now();
        this.keepAliveNanos = keepAliveNanos;
        this.lastUsedNanos = System.nanoTime();
    }

    /** Sets how requests choose among the replicas (the measured weights feed {@code weighted} and {@code least-loaded}). */
    void routeStrategy(RouteStrategy strategy) {
        this.router = new Router(strategy);
    }

    public LocalModel model() {
        return model;
    }

    public String name() {
        return model.name().shortName();
    }

    /** Tokens one sequence may hold (prompt and generated). */
    public int contextLength() {
        return runner.config().contextPerSequence();
    }

    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        return engine.tokenize(text, addSpecial, parseSpecial);
    }

    public byte[] piece(int token) {
        return engine.piece(token);
    }

    /** See {@link Engine#detokenize}. */
    public String detokenize(int[] tokens) {
        return engine.detokenize(tokens);
    }

    public boolean hasChatTemplate() {
        return engine.hasChatTemplate();
    }

    /** The GGUF's Jinja chat template, if it has one. */
    public java.util.Optional<String> chatTemplateSource() {
        return engine.chatTemplateSource();
    }

    /** The BOS and EOS token texts, for chat templates. */
    public String[] specialTokenTexts() {
        return engine.specialTokenTexts();
    }

    public String applyChatTemplate(List<Engine.ChatMessage> messages, boolean addAssistant) {
        return engine.applyChatTemplate(messages, addAssistant);
    }

    /**
     * Submits to the replica the {@link Router} picks: least loaded (running and queued sequences, KV use), or the
     * one that served the same prompt prefix unless it is much busier; when its queue is full the others are tried
     * before the request is refused. See {@link Runner#submit}.
     */
    public GenerationHandle generate(GenerationRequest request, GenerationObserver observer) {
        return submit(request, observer).handle();
    }

    private static double[] weights(List<Replica> replicas) {
        return routingWeights(replicas.stream().mapToDouble(Replica::weight).toArray());
    }

    /** Rates closer than this factor, fastest over slowest, count as one speed: see {@link #routingWeights}. */
    static final double SAME_SPEED = 1.25;

    /**
     * Each replica's routing weight from the decode rates measured at load: its rate over the replicas' mean, kept
     * within [1/4, 4] (the probe should tilt the share between cards of unlike speed, never starve a replica).
     * All 1 where a rate is missing, or where the fastest is within {@link #SAME_SPEED} of the slowest: a short
     * probe cannot tell such speeds apart (two identical H200s measured 245 and 275 tokens/s, and the weights
     * that followed sent one of them 10% more requests for the whole run).
     */
    static double[] routingWeights(double[] rates) {
        double[] w = new double[rates.length];
        java.util.Arrays.fill(w, 1.0);
        double min = Double.POSITIVE_INFINITY;
        double max = 0;
        double sum = 0;
        for (double r : rates) {
            if (!(r > 0) || Double.isInfinite(r)) {
                return w;
            }
            min = Math.min(min, r);
            max = Math.max(max, r);
            sum += r;
        }
        if (rates.length < 2 || max <= SAME_SPEED * min) {
            return w;
        }
        double mean = sum / rates.length;
        for (int i = 0; i < w.length; i++) {
            w[i] = Math.max(0.25, Math.min(4.0, rates[i] / mean));
        }
        return w;
    }

    /**
     * A replica's load as the router sees it, from its runner's counters now (bench's simulation of several
     * replicas routes with this too).
     *
     * @param gpuMemoryUsed its fullest GPU's memory in use, 0 to 1; NaN when unknown
     */
    public static ReplicaLoad loadOf(int index, Runner runner, double gpuMemoryUsed, double weight) {
        RunnerStats st = runner.stats();
        double kv = st.kvCells() == 0 ? 0 : st.kvCellsUsed() / (double) st.kvCells();
        return new ReplicaLoad(index, 0, st.waiting(), st.active(), runner.config().maxSequences(), kv,
                gpuMemoryUsed, weight);
    }

    /** {@link #generate}, telling which replica took the request and whether prefix affinity chose it. */
    public Submission submit(GenerationRequest request, GenerationObserver observer) {
        touch();
        if (replicas.size() == 1) {
            return new Submission(runner.submit(request, observer), replicas.getFirst().index(), false);
        }
        List<ReplicaLoad> loads = new ArrayList<>(replicas.size());
        for (int i = 0; i < replicas.size(); i++) {
            Replica r = replicas.get(i);
            double memory = Double.NaN;
            for (int gpu : r.gpus()) {
                double used = gpuMemoryUsed.applyAsDouble(gpu);
                if (!Double.isNaN(used)) {
                    memory = Double.isNaN(memory) ? used : Math.max(memory, used);
                }
            }
            loads.add(loadOf(r.index(), r.runner(), memory, weights[i]));
        }
        int[] prompt = request.prompt();
        RouteDecision decision = router.route(loads, new RouteRequest(Router.prefixHash(prompt, prompt.length)));
        Replica best = replicas.get(decision.index());
        try {
            return new Submission(best.runner().submit(request, observer), best.index(),
                    decision.reason() == RouteDecision.Reason.PREFIX);
        } catch (QueueFullException full) {
            for (Replica r : replicas) {
                if (r != best) {
                    try {
                        return new Submission(r.runner().submit(request, observer), r.index(), false);
                    } catch (QueueFullException ignored) {
                        // try the next one
                    }
                }
            }
            throw full;
        }
    }

    /**
     * Queues one input for its pooled embedding on the least busy replica; it is decoded in the same steps as the
     * replica's generations. Cancelling the future frees its sequence at the runner's next step. See
     * {@link Runner#embed}.
     */
    public java.util.concurrent.CompletableFuture<dev.gantry.runtime.runner.Embedding> embed(int[] tokens) {
        return embed(tokens, false);
    }

    /** {@link #embed(int[])}; {@code admitted} as in {@link Runner#embed(int[], boolean)}. */
    public java.util.concurrent.CompletableFuture<dev.gantry.runtime.runner.Embedding> embed(int[] tokens,
                                                                                            boolean admitted) {
        touch();
        return leastBusy().embed(tokens, admitted);
    }

    /**
     * Lets in one request of many embedding inputs on the least busy replica ({@link Runner#admitBatch}); its inputs
     * then go to {@link #embed(int[], boolean)} as admitted ones.
     */
    public Runner.Admission admitEmbeddings() {
        return leastBusy().admitBatch();
    }

    private Runner leastBusy() {
        Runner best = runner;
        if (replicas.size() > 1) {
            int least = Integer.MAX_VALUE;
            for (Replica r : replicas) {
                RunnerStats st = r.runner().stats();
                if (st.active() + st.waiting() < least) {
                    least = st.active() + st.waiting();
                    best = r.runner();
                }
            }
        }
        return best;
    }

    /** Whether this model is a reranker: it scores query-document pairs and has no embeddings. */
    public boolean isReranker() {
        return engine.pooling() == dev.gantry.runtime.engine.Pooling.RANK;
    }

    /** How this reranker joins a query and a document; empty for other models. */
    public java.util.Optional<dev.gantry.runtime.engine.Engine.PairFormat> pairFormat() {
        return engine.pairFormat();
    }

    /** Floats in one of this model's embeddings; 0 when it cannot embed. */
    public int embeddingSize() {
        return engine.embeddingSize();
    }

    /** The replicas' counters added up (the largest batch is the largest of any replica). */
    public RunnerStats stats() {
        if (replicas.size() == 1) {
            return runner.stats();
        }
        long steps = 0, batched = 0, seqSteps = 0, prompt = 0, generated = 0, completed = 0, cancelled = 0,
                rejected = 0, preemptions = 0, decode = 0, wait = 0, sample = 0, step = 0, embeddings = 0, mixed = 0,
                reused = 0, passes = 0, fillers = 0, parkedFillers = 0, moves = 0, ahead = 0;
        int parkedCells = 0, maxSeq = 0, active = 0, waiting = 0, used = 0, cells = 0, budget = 0, maxActive = 0;
        for (Replica r : replicas) {
            RunnerStats s = r.runner().stats();
            steps += s.steps();
            batched += s.batchedSteps();
            maxSeq = Math.max(maxSeq, s.maxSequencesInStep());
            seqSteps += s.sequenceSteps();
            prompt += s.promptTokens();
            generated += s.generatedTokens();
            active += s.active();
            waiting += s.waiting();
            used += s.kvCellsUsed();
            cells += s.kvCells();
            completed += s.completed();
            cancelled += s.cancelled();
            rejected += s.rejected();
            preemptions += s.preemptions();
            decode += s.decodeNanos();
            wait += s.waitNanos();
            sample += s.sampleNanos();
            step += s.stepNanos();
            budget += s.promptBudget();
            maxActive += s.maxActive();
            embeddings += s.embeddings();
            mixed += s.mixedSteps();
            reused += s.reusedPromptTokens();
            parkedCells += s.kvCellsParked();
            passes += s.forwardPasses();
            fillers += s.gapFillers();
            parkedFillers += s.parkedFillers();
            moves += s.idMoves();
            ahead += s.aheadTokens();
        }
        return new RunnerStats(steps, batched, maxSeq, seqSteps, prompt, generated, active, waiting, used, cells,
                completed, cancelled, rejected, preemptions, decode, wait, sample, step, budget, maxActive, embeddings,
                mixed, reused, parkedCells, passes, fillers, parkedFillers, moves, ahead);
    }

    public List<Replica> replicas() {
        return replicas;
    }

    public dev.gantry.runtime.engine.EngineInfo engineInfo() {
        return engine.info();
    }

    public long loadNanos() {
        return loadNanos;
    }

    public Instant loadedAt() {
        return loadedAt;
    }

    /** The options it was loaded with ({@code num_ctx}, {@code num_gpu}, {@code main_gpu}, {@code num_batch}). */
    public LoadOptions loadOptions() {
        return loadOptions;
    }

    // Requests that hold the model between acquiring it and handing their work to a runner (tokenizing, rendering
    // the template); guarded by this. Once retired, nothing new may hold it and it is unloaded.
    private int holds;
    private boolean retired;
    // Draining: another model waits for this one's room (OLLAMA_MAX_LOADED_MODELS), so no new request may hold it
    // while its work finishes; requests for it wait until it is gone (or the drain is called off), then load it
    // anew, after the model that waited, as Ollama's scheduler queues them
    private CompletableFuture<Void> drain;

    /**
     * Holds the model for a request until the lease closes; false once it is retired or draining (acquire it again).
     */
    synchronized boolean hold() {
        if (retired || drain != null) {
            return false;
        }
        holds++;
        return true;
    }

    /**
     * Holds the model for a request that already holds it (another choice of one OpenAI request), draining or not;
     * false once it is retired.
     */
    synchronized boolean holdAgain() {
        if (retired) {
            return false;
        }
        holds++;
        return true;
    }

    /** Takes no new request from now on; its work goes on. Idempotent. */
    synchronized void drain() {
        if (drain == null && !retired) {
            drain = new CompletableFuture<>();
        }
    }

    /** While draining, what completes when the model is gone or takes requests again; else null. */
    synchronized CompletableFuture<Void> draining() {
        return drain;
    }

    /** Takes requests again (the room it was draining for came from elsewhere). */
    void undrain() {
        CompletableFuture<Void> d;
        synchronized (this) {
            d = drain;
            drain = null;
        }
        if (d != null) {
            d.complete(null);
        }
    }

    private void release() {
        boolean unloadNow;
        synchronized (this) {
            holds--;
            touch();
            unloadNow = holds == 0 && keepAliveNanos == 0;
        }
        if (unloadNow) {
            whenLetGo.run();
        }
    }

    /** What runs when the last request lets go of a model whose keep-alive is zero (its manager unloads it). */
    private volatile Runnable whenLetGo = () -> {};

    void whenLetGoWithoutKeepAlive(Runnable action) {
        this.whenLetGo = action;
    }

    /**
     * Retires the model when no request holds it and no replica has work. True for the one call that retires it:
     * no request can hold it from then on, and it is that caller's to unload (false once it is retired, so two
     * threads never both unload it).
     */
    synchronized boolean retireIfIdle() {
        if (retired) {
            return false;
        }
        if (holds > 0 || !idle()) {
            return false;
        }
        retired = true;
        return true;
    }

    synchronized boolean retired() {
        return retired;
    }

    /** Whether {@link #retireIfIdle} would retire it now: no request holds it and no replica has work. */
    synchronized boolean retirable() {
        return !retired && holds == 0 && idle();
    }

    /** A request's hold on a model: the model is not unloaded before the lease closes. Close it once. */
    public final class Lease implements AutoCloseable {
        private final java.util.concurrent.atomic.AtomicBoolean closed =
                new java.util.concurrent.atomic.AtomicBoolean();

        private final LocalModel requested;

        private Lease(LocalModel requested) {
            this.requested = requested;
        }

        public LoadedModel model() {
            return LoadedModel.this;
        }

        /**
         * The model the request named, as it was when the lease was taken: its layers (template, system prompt,
         * parameters, messages) are the request's, while this copy may have been loaded for another model of the
         * same weights.
         */
        public LocalModel requested() {
            return requested;
        }

        /**
         * Lets the model go. Work already submitted keeps it loaded through its runners; whatever the request does
         * with the model afterwards may find it unloaded.
         */
        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                release();
            }
        }
    }

    /** A lease, for a request that named {@code requested}, on a hold already taken by {@link #hold()}. */
    Lease lease(LocalModel requested) {
        return new Lease(requested);
    }

    /** True when no replica is generating or has requests waiting. */
    boolean idle() {
        for (Replica r : replicas) {
            RunnerStats s = r.runner().stats();
            if (s.active() > 0 || s.waiting() > 0) {
                return false;
            }
        }
        return true;
    }

    long lastUsedNanos() {
        return lastUsedNanos;
    }

    /** Marks the model used now; the keep-alive clock starts again when it goes idle. */
    public void touch() {
        lastUsedNanos = System.nanoTime();
    }

    /** The arrival of the request whose keep-alive applies (see {@link #keepAlive(long, long)}). */
    private long keepAliveArrival;

    /**
     * Sets the keep-alive of the request that asked for the model {@code arrival}-th, unless a later one has set
     * its own already: the last request to arrive decides, whatever order a load hands the model out in.
     */
    synchronized void keepAlive(long nanos, long arrival) {
        if (arrival >= keepAliveArrival) {
            keepAliveArrival = arrival;
            keepAliveNanos = nanos;
        }
        touch();
    }

    /**
     * How long it stays loaded once idle, for choosing which model makes room: {@link Long#MAX_VALUE} for a model
     * kept for ever (a negative keep-alive), as Ollama ranks its runners.
     */
    long keepAliveForEviction() {
        long keep = keepAliveNanos;
        return keep < 0 ? Long.MAX_VALUE : keep;
    }

    /** When an idle model unloads; {@link Instant#MAX} for never. */
    public Instant expiresAt() {
        long keep = keepAliveNanos;
        if (keep < 0) {
            return Instant.MAX;
        }
        long idleFor = System.nanoTime() - lastUsedNanos;
        return Instant.now().plusNanos(Math.max(0, keep - idleFor));
    }

    boolean expired(long now) {
        RunnerStats s = runner.stats();
        if (s.active() > 0 || s.waiting() > 0) {
            lastUsedNanos = now;
            return false;
        }
        long keep = keepAliveNanos;
        return keep >= 0 && now - lastUsedNanos >= keep;
    }

    private volatile Runnable whenUnloaded = () -> {};

    /** What runs once the model is unloaded (its manager's listeners). */
    void whenUnloaded(Runnable action) {
        this.whenUnloaded = action;
    }

    void unload() {
        try {
            RuntimeException failed = null;
            for (Replica r : replicas) {
                try {
                    r.close();
                } catch (RuntimeException e) { // the others are closed all the same
                    if (failed == null) {
                        failed = e;
                    } else {
                        failed.addSuppressed(e);
                    }
                }
            }
            whenUnloaded.run();
            if (failed != null) {
                throw failed;
            }
        } finally {
            CompletableFuture<Void> d;
            synchronized (this) {
                d = drain;
            }
            if (d != null) {
                d.complete(null); // requests waiting for it load it anew
            }
        }
    }
}
