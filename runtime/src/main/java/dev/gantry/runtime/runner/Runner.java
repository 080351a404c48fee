package dev.gantry.runtime.runner;

import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineSession;
import dev.gantry.runtime.engine.SamplingException;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.engine.SessionParams;
import dev.gantry.runtime.sampling.ParallelSampling;
import dev.gantry.runtime.sampling.TokenLogprobs;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Owns one engine session on one platform thread and batches every sequence of it continuously: each step decodes
 * the next token of every generating sequence plus chunks of waiting prompts (up to a per-step prompt budget),
 * then samples each sequence that produced an output. New requests join at the next step; finished or cancelled
 * ones leave, and their KV cells are freed, in the step that sees them.
 *
 * <p>Admission is by free sequence slots and free KV cells of the unified cache. When the cache still runs out
 * mid-generation, the most recently admitted sequence is preempted: its cells are freed and it re-enters the queue
 * at the front with its generated tokens, to be recomputed later (the client only sees a pause).
 *
 * <p>A finished generation's cells stay in its sequence slot ("parked") until the slot or the cells are needed: a
 * new request whose tokens start the same way (the same system prompt, the next turn of a conversation) takes that
 * slot, keeps the common prefix and decodes only the rest, as llama-server and Ollama reuse a slot's cache. The
 * least recently parked are freed first when a request needs cells; a parked slot is taken over by any request
 * when it is the lowest free one, so the ids of running sequences stay compact.
 *
 * <p>Embedding inputs ({@link #embed}) are sequences too: their tokens ride in the same steps (every one an output,
 * with the engine's embedding output on for those steps), they are pooled instead of sampled, and they leave in the
 * step that decodes their last token.
 *
 * <p>{@link #submit}, {@link #embed} and {@link #stats} are thread-safe; everything else runs on the runner thread.
 */
public final class Runner implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("gantry.runner");
    /** The shortest common prefix worth taking over a parked slot for (below it, a free slot is as good). */
    static final int MIN_REUSE = 16;
    /** llama.cpp's LLAMA_MAX_SEQ at v0.5.0: the most sequence ids a context takes. */
    private static final int LLAMA_MAX_SEQ = 256;
    /**
     * An encoder's runner's batch on a GPU where its context is shorter ({@code -Dgantry.encoderBatch} sets another,
     * for measuring); what a step packs is {@link StepBatch#ENCODER_PASS_TOKENS}. On the CPU both are
     * {@link StepBatch#ENCODER_CPU_PASS_TOKENS}.
     */
    static final int ENCODER_BATCH = Integer.getInteger("gantry.encoderBatch",
            dev.gantry.models.footprint.ModelFootprint.ENCODER_BATCH);

    private final String name;
    private final Engine engine;
    private final RunnerConfig config;
    private final Inbox inbox;
    private final Thread thread;
    private final CompletableFuture<Void> started = new CompletableFuture<>();
    private volatile boolean running = true;

    // runner thread only
    private final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
    private final List<Sequence> active = new ArrayList<>();
    private final KvCells cells = new KvCells();
    private final ParkedSlots parked = cells.parked;
    private final StepBatch batch = new StepBatch(parked::length);
    private final StepOutputs outputs = new StepOutputs();
    private final PromptsAhead promptsAhead = new PromptsAhead();
    private EngineSession session;
    private final SequenceIds ids;

    // written by the runner thread, read by anyone
    private final RunnerCounters counts = new RunnerCounters();
    private volatile int activeCount;
    /** The prompt budget and the active sequences, adapted to the ITL target unless batching is fixed. */
    private final StepLimits limits;

    private Runner(String name, Engine engine, RunnerConfig config) {
        this.name = name;
        this.engine = engine;
        this.config = config;
        this.inbox = new Inbox(name, config.maxSequences(), config.maxQueue());
        this.thread = Thread.ofPlatform().name("runner-" + name).daemon(true).unstarted(this::run);
        this.ids = new SequenceIds(config.maxSequences(), parked);
        this.limits = new StepLimits(name, config);
    }

    /**
     * Starts a runner and opens its session on the runner thread; returns once the session is open.
     *
     * @throws RuntimeException the session's failure (for example, not enough memory for the KV cache)
     */
    public static Runner start(String name, Engine engine, RunnerConfig config) {
        if (engine.wholeInputs() && config.maxSequences() >= LLAMA_MAX_SEQ) {
            // an encoder's session on a GPU keeps one sequence id for its filler (LlamaCppSession.decode)
            config = new RunnerConfig(config.contextPerSequence(), config.kvCells(), LLAMA_MAX_SEQ - 1,
                    config.maxQueue(), config.promptBudget(), config.threads(), config.backendSampling(),
                    config.kvUnified(), config.itlTargetNanos());
        }
        Runner r = new Runner(name, engine, config);
        r.thread.start();
        try {
            r.started.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            r.close();
            throw new IllegalStateException("interrupted while starting runner " + name, e);
        } catch (ExecutionException e) {
            r.close();
            throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
        }
        return r;
    }

    public String name() {
        return name;
    }

    public RunnerConfig config() {
        return config;
    }

    /**
     * Queues a generation. The observer is called on the runner thread.
     *
     * @throws QueueFullException       when every slot is busy and the wait queue is full
     * @throws IllegalArgumentException when the prompt does not fit one sequence's context, or the model is an
     *                                  encoder ({@link Engine#wholeInputs()})
     * @throws IllegalStateException    when the runner has stopped
     */
    public GenerationHandle submit(GenerationRequest request, GenerationObserver observer) {
        if (engine.wholeInputs()) {
            throw new IllegalArgumentException("this model is an encoder: it embeds and cannot generate");
        }
        int context = request.context(config.contextPerSequence());
        // a prompt that generates nothing may fill the context; else it leaves room for a token
        if (request.prompt().length > context || (request.prompt().length == context && !request.promptOnly())) {
            throw new IllegalArgumentException("prompt of " + request.prompt().length
                    + " tokens does not fit the context of " + context);
        }
        return inbox.offer(new Sequence(request, observer, System.nanoTime()), this::isRunning);
    }

    /**
     * Queues one input for its pooled embedding. It is a sequence like any other: admitted to a slot, its tokens
     * decoded in the same steps as the generations (with embeddings on for those steps, every token an output),
     * pooled as the model says, and its KV cells freed in the step that completes it. Cancelling the future ends
     * it at the next step.
     *
     * @throws IllegalArgumentException when the model cannot embed or the input does not fit one sequence's context
     * @throws QueueFullException       when every slot is busy and the wait queue is full
     */
    public CompletableFuture<Embedding> embed(int[] tokens) {
        return embed(tokens, false);
    }

    /**
     * {@link #embed(int[])}; with {@code admitted}, the input belongs to a batch whose first input was already let
     * in, and is queued whatever the bound on waiting sequences (one request of many inputs is never "busy" by its
     * size alone).
     */
    public CompletableFuture<Embedding> embed(int[] tokens, boolean admitted) {
        if (engine.embeddingSize() <= 0) {
            throw new IllegalArgumentException("this model does not support embeddings");
        }
        if (tokens.length > config.contextPerSequence()) {
            throw new IllegalArgumentException("input of " + tokens.length
                    + " tokens does not fit the context of " + config.contextPerSequence());
        }
        EmbeddingCall call = new EmbeddingCall();
        Sequence s = new Sequence(new GenerationRequest(tokens, SamplingParams.greedyDefaults(), 0), call,
                System.nanoTime(), true);
        inbox.offer(s, this::isRunning, admitted);
        call.future.whenComplete((v, e) -> {
            if (call.future.isCancelled()) {
                s.cancel();
            }
        });
        return call.future;
    }

    /**
     * Lets in one request of many embedding inputs: it counts once toward the queue's bound until the returned
     * admission closes, and its inputs go in as {@link #embed(int[], boolean) admitted} ones, outside the bound, as
     * Ollama schedules such a batch as one request.
     *
     * @throws QueueFullException    when every slot is busy and the wait queue is full
     * @throws IllegalStateException when the runner has stopped
     */
    public Admission admitBatch() {
        return inbox.admitBatch(this::isRunning);
    }

    /** A request let in with {@link #admitBatch}; closing it (once is enough) takes it out of the bound. */
    public interface Admission extends AutoCloseable {
        @Override
        void close();
    }

    public RunnerStats stats() {
        RunnerCounters c = counts;
        return new RunnerStats(c.steps, c.batchedSteps, c.maxSequencesInStep, c.sequenceSteps, c.promptTokens,
                c.generatedTokens, activeCount, Math.max(0, inbox.outstanding() - activeCount), c.kvCellsUsed,
                config.kvCells(), c.completed, c.cancelled, inbox.rejected(), c.preemptions, c.decodeNanos,
                c.waitNanos, c.sampleNanos, c.stepNanos, limits.promptBudget(), limits.maxActive(), c.embeddings,
                c.mixedSteps, c.reusedPromptTokens, c.kvCellsParked, c.forwardPasses, c.gapFillers, c.parkedFillers,
                c.idMoves, c.aheadTokens);
    }

    private void run() {
        boolean onCpu;
        try {
            onCpu = "cpu".equals(engine.info().backend());
            int capacity = config.batchCapacity();
            if (engine.wholeInputs()) {
                // An encoder's input goes into one step whole, however long (StepBatch packs a step), and a step
                // is one pass (llama.cpp's micro-batch): its batch holds ENCODER_BATCH tokens on a GPU (512 on the
                // CPU, where attention's scores grow with the pass's square), or one whole context where that is
                // longer; a request's num_batch does not change it.
                batch.encoderPassTokens(onCpu ? StepBatch.ENCODER_CPU_PASS_TOKENS : StepBatch.ENCODER_PASS_TOKENS);
                capacity = Math.max(config.contextPerSequence(),
                        onCpu ? StepBatch.ENCODER_CPU_PASS_TOKENS : ENCODER_BATCH);
            }
            session = engine.openSession(new SessionParams(config.kvCells(), config.maxSequences(), capacity,
                    config.threads(), config.backendSampling(), config.kvUnified()));
            cells.open(session);
            batch.scoringOutputs(StepBatch.scoringOutputsFor(engine.info().vocabSize()));
            if (!onCpu) {
                WarmUp.warm(name, session, config.contextPerSequence()); // a GPU session's kernels load now
            }
        } catch (Throwable t) {
            running = false;
            if (session != null) {
                session.close();
            }
            started.completeExceptionally(t); // never leave start() waiting
            return;
        }
        started.complete(null);
        ParallelSampling.runnerStarted(onCpu); // runners side by side share the sampling cores
        try {
            while (running) {
                // with nothing to do, wait briefly for a request
                if (!inbox.moveTo(waiting, active.isEmpty() && waiting.isEmpty() ? 50 : 0)) {
                    continue;
                }
                reapFinishRequests();
                admit();
                if (!active.isEmpty()) {
                    step();
                }
            }
        } catch (InterruptedException e) {
            // close() interrupts a runner waiting for work: a normal stop
        } catch (Throwable t) {
            LOG.log(System.Logger.Level.ERROR, "runner " + name + " failed", t);
            failAll(t);
        } finally {
            running = false;
            ParallelSampling.runnerStopped(onCpu);
            try {
                failAll(new IllegalStateException("model " + name + " was unloaded"));
            } finally {
                session.close(); // also when an observer's failure got out: the session's threads let go
            }
        }
    }

    private void reapFinishRequests() {
        for (int i = active.size() - 1; i >= 0; i--) {
            Sequence s = active.get(i);
            FinishReason r = s.requestedFinish();
            if (r != null) {
                finish(s, r);
            }
        }
        reapWaiting();
    }

    /** Finishes the waiting requests whose finish was asked (a cancelled one is never admitted). */
    private void reapWaiting() {
        waiting.removeIf(s -> {
            FinishReason r = s.requestedFinish();
            if (r != null) {
                finish(s, r);
                return true;
            }
            return false;
        });
    }

    private void admit() {
        admit(0);
    }

    /**
     * Admits waiting requests while ids and cells allow, {@code extra} cells counted as taken besides (the tokens
     * this step's outputs will add, when it admits before they are accepted).
     */
    private void admit(int extra) {
        // Cells already taken plus those the admitted sequences will take with the tokens they still have to
        // decode: admitting against used cells alone let a preempted sequence straight back in, to fail again.
        long reserved = cells.reserved(active) + extra;
        while (!waiting.isEmpty() && idsLeft()) {
            Sequence s = waiting.peekFirst();
            // the parked slot that starts like this sequence, leaving it at least one token to decode
            // a prompt to score takes only a slot whose own prompt was scored: the positions it shares come with
            // their log probabilities, and the last of them is decoded again, its output scoring the next token
            boolean scoresPrompt = s.request.promptLogprobs();
            int reuse = s.embedding ? -1 : scoresPrompt
                    ? parked.bestScored(s.tokens, s.length - 1, MIN_REUSE + 1, s.request.logprobs())
                    : parked.best(s.tokens, s.length - 1, MIN_REUSE);
            int keep = reuse < 0 ? 0 : parked.commonPrefix(reuse, s.tokens, s.length - 1);
            if (scoresPrompt && reuse >= 0) {
                keep = Math.min(keep - 1, parked.scoredUpTo(reuse));
            }
            // taking over the parked slot frees its cells past the common prefix
            long released = reuse < 0 ? 0 : parked.length(reuse) - keep;
            int need = s.pending() - keep + 1;
            while (!active.isEmpty() && reserved - released + need > config.kvCells() && cells.evictOldest(reuse)) {
                reserved = cells.reserved(active) + extra;
            }
            if (!active.isEmpty() && reserved - released + need > config.kvCells()) {
                return; // wait for cells to free up
            }
            waiting.pollFirst();
            try {
                if (reuse >= 0) {
                    s.id = reuse;
                    dev.gantry.runtime.sampling.TokenLogprobs[] known = scoresPrompt ? parked.scored(reuse) : null;
                    s.cached = cells.takeOver(reuse, keep);
                    s.reused = Math.min(s.cached, s.promptLength);
                    counts.reusedPromptTokens += s.cached;
                    if (known != null) {
                        PromptScores.reportKnown(s, known);
                    }
                } else {
                    s.id = ids.fresh();
                    if (parked.holds(s.id)) {
                        cells.evict(s.id);
                    }
                }
            } catch (RuntimeException | Error e) {
                // the engine failed to free cells: their state is unknown, so the runner fails as before (failAll),
                // and this request, neither waiting nor active now, is told here
                s.id = -1;
                inbox.settled(s);
                try {
                    s.observer.onError(e);
                } catch (RuntimeException ignored) {
                    // its client is gone
                }
                throw e;
            }
            reserved = cells.reserved(active) + extra + s.pending();
            ids.take(s.id);
            if (s.admittedAt == 0) {
                s.admittedAt = System.nanoTime();
            }
            try {
                if (s.embedding) {
                    session.beginEmbedding(s.id);
                    s.pooled = new float[engine.embeddingSize()];
                } else {
                    // a prompt-only request samples nothing: it has no sampler (a format it asked for is not
                    // compiled, and no chain of its goes onto the device)
                    s.sampler = s.request.promptOnly() ? null : s.request.logprobs() >= 0
                            ? session.newHostSampler(s.id, s.request.sampling(), s.samplerHistory(), s.promptLength)
                            : session.newSampler(s.id, s.request.sampling(), s.samplerHistory(), s.promptLength);
                }
            } catch (RuntimeException e) {
                fail(s, e); // frees its slot and any prefix it took over
                reserved = cells.reserved(active) + extra;
                continue;
            } catch (Error e) {
                fail(s, e); // it has left the waiting list and is not active yet: failAll would not see it
                throw e;
            }
            active.add(s);
        }
        activeCount = active.size();
    }

    private void step() throws InterruptedException {
        long stepStart = System.nanoTime();
        counts.idMoves += ids.compact(active, session, cells);
        // prompt tokens decoded ahead for this step came out of its budget
        int ahead = promptsAhead.takeTaken();
        batch.fill(active, session, Math.max(0, limits.promptBudget() - ahead));
        // read now: an embedding input that completes in this step leaves active before the controller sees it
        StepLimits.Load load = limits.loadIfAdaptive(active);
        if (load != null && ahead > 0) {
            // on a GPU their device time falls mostly in this step (its decode waits for them)
            load = new StepLimits.Load(load.generating(), load.promptTokens() + ahead, load.sequences(),
                    load.nothingGenerates());
        }
        int sequencesInStep = batch.sequences;
        int generatingInStep = batch.generating;
        boolean embeddingInStep = batch.embeddings;
        if (session.batchSize() == 0) {
            // every generating sequence waits on a slow client: wait for one to drain or a new request
            inbox.moveTo(waiting, 1);
            return;
        }
        EngineSession.DecodeStatus status;
        long decodeStart = System.nanoTime();
        try {
            session.embeddings(embeddingInStep);
            status = session.decode();
            counts.decodeNanos += System.nanoTime() - decodeStart;
            counts.forwardPasses = session.forwardPasses();
            counts.gapFillers += batch.fillers;
            counts.parkedFillers += batch.parkedFillers;
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "decode failed in runner " + name + "; failing its sequences", e);
            for (Sequence s : List.copyOf(active)) {
                fail(s, e);
            }
            return;
        } finally {
            batch.removeFillers(session, this::refusedCut);
        }
        if (status == EngineSession.DecodeStatus.NO_KV_SLOT) {
            preemptNewest();
            return;
        }
        counts.step(sequencesInStep);
        if (embeddingInStep && generatingInStep > 0) {
            counts.mixedSteps++;
        }
        long now = System.nanoTime();
        int n = active.size();
        outputs.clear(n);
        for (int i = 0; i < n; i++) {
            Sequence s = active.get(i);
            if (s.chunk == 0) {
                continue;
            }
            if (s.embedding) {
                EmbeddingCall.pool(engine.pooling(), session, s);
            }
            counts.promptTokens += s.decoded(s.chunk);
            cells.decoded(s.chunk);
            if (s.embedding) {
                if (s.cached == s.length) {
                    completeEmbedding(s, now);
                    i--; // s left the active list
                    n--;
                }
                continue;
            }
            if (s.request.promptLogprobs() || s.request.promptOnly()) {
                scoring = true;
            }
            if (s.batchIndex >= 0 && !s.request.promptOnly()) {
                outputs.add(s);
            }
        }
        boolean aheadAllowed = !scoring && !embeddingInStep && PromptsAhead.allowed(outputs, session);
        if (!scoring && !(aheadAllowed && PromptsAhead.any(active))) {
            // (a step that scores a prompt reads its rows on the sampling cores first, and one that decodes prompts
            // ahead samples on the pool while its thread queues them: no workers waiting for the sampling meanwhile)
            outputs.prepare(session);
        }
        long w0 = System.nanoTime();
        session.synchronize();
        long t0 = System.nanoTime();
        counts.waitNanos += t0 - w0;
        if (scoring) {
            scoring = false;
            scorePrompts(now); // before any sampled token: a prompt's log probabilities come first
        }
        SamplingException failed; // only those sequences fail
        if (aheadAllowed && arrivalsAdmissible()) {
            // requests that came in during the decode, admitted now (before the sampling starts: nothing but the
            // decode ahead may touch the session while it runs) to go ahead as well; the outputs' sequences stay
            inbox.moveTo(waiting, 0);
            reapWaiting();
            admit(outputs.count); // each output's token takes a cell once accepted
        }
        EngineSession.PendingSamples pending = aheadAllowed && PromptsAhead.any(active) ? outputs.start(session)
                : null;
        if (pending != null) {
            counts.sampleNanos += System.nanoTime() - t0;
            RuntimeException aheadFailed = null;
            try {
                promptsAhead.decode(active, session, limits.promptBudget(), cells, counts);
            } catch (RuntimeException e) {
                aheadFailed = e;
            } finally {
                long j0 = System.nanoTime(); // the pool reads the rows until then, whatever happened here
                failed = outputs.join(pending);
                counts.sampleNanos += System.nanoTime() - j0;
            }
            if (aheadFailed != null) {
                LOG.log(System.Logger.Level.ERROR, "decode failed in runner " + name + "; failing its sequences",
                        aheadFailed);
                for (int i = 0; i < outputs.count; i++) {
                    outputs.forget(i);
                }
                for (Sequence s : List.copyOf(active)) {
                    fail(s, aheadFailed);
                }
                return;
            }
        } else {
            failed = outputs.sample(session);
            counts.sampleNanos += System.nanoTime() - t0;
        }
        for (int i = 0; i < outputs.count; i++) {
            if (failed != null && failed.failed(i)) {
                LOG.log(System.Logger.Level.WARNING, "runner " + name + ": sampling failed for one sequence",
                        failed.cause(i));
                fail(outputs.sequences[i], failed.cause(i));
            } else {
                // may finish the sequence and take it out of the active list
                Sequence s = outputs.sequences[i];
                TokenLogprobs lp = s.request.logprobs() >= 0
                        ? session.logprobs(s.batchIndex, outputs.tokens[i], s.request.logprobs()) : null;
                accept(s, outputs.tokens[i], now, lp);
            }
            outputs.forget(i);
        }
        cells.publish(counts); // for stats(), read from other threads
        long took = System.nanoTime() - stepStart;
        counts.stepNanos += took;
        limits.observe(took, load, waiting.size() + inbox.queued());
    }

    /** Whether requests wait (or came in) while the runner has ids to admit some. */
    private boolean arrivalsAdmissible() {
        return (inbox.queued() > 0 || !waiting.isEmpty()) && idsLeft();
    }

    /** Whether the runner may take on another sequence: below its slots and the controller's current limit. */
    private boolean idsLeft() {
        return ids.count() < Math.min(config.maxSequences(), limits.maxActive());
    }

    /** Whether this step decoded a chunk of a prompt to score or of one that generates nothing. */
    private boolean scoring;
    /** The prompts' log probabilities this runner reports (its lists kept between steps). */
    private final PromptScores scores = new PromptScores();

    /**
     * Reports the log probabilities of the prompt tokens this step's outputs predict ({@link PromptScores}), and
     * ends each prompt-only sequence whose prompt is now decoded (never one of the step's outputs to sample).
     */
    private void scorePrompts(long now) {
        scores.report(active, session);
        for (int i = 0; i < active.size(); i++) {
            Sequence s = active.get(i);
            if (s.chunk > 0 && s.request.promptOnly() && s.cached >= s.promptLength && s.requestedFinish() == null) {
                if (s.firstTokenAt == 0) {
                    s.firstTokenAt = now;
                }
                finish(s, FinishReason.LENGTH);
                i--;
            }
        }
    }

    /**
     * The engine would not cut a placeholder out of {@code id}'s cells (it says it can; a memory that refuses
     * partial cuts should not have asked for placeholders): whatever holds the id loses its cells rather than
     * carry a token it never had. The engine stops asking for placeholders after a refusal.
     */
    private void refusedCut(int id) {
        LOG.log(System.Logger.Level.WARNING, "runner " + name + ": the engine would not cut a gap placeholder out of"
                + " sequence " + id + "; freeing what holds it");
        for (Sequence s : List.copyOf(active)) {
            if (s.id == id) {
                fail(s, new IllegalStateException("the engine could not remove a placeholder from sequence " + id));
                return;
            }
        }
        cells.clear(id);
    }

    /** Hands an embedding input its vector and frees its sequence in this step. */
    private void completeEmbedding(Sequence s, long now) {
        if (s.firstTokenAt == 0) {
            s.firstTokenAt = now;
        }
        ((EmbeddingCall) s.observer).vector = EmbeddingCall.finishPooling(engine.pooling(), s);
        counts.embeddings++;
        finish(s, FinishReason.STOP);
    }

    /**
     * Handles a sampled token and its log probabilities (null unless asked); returns true when the sequence finished
     * (and left the active list).
     */
    private boolean accept(Sequence s, int token, long now, TokenLogprobs logprobs) {
        if (s.firstTokenAt == 0) {
            s.firstTokenAt = now;
        }
        if (engine.isEndOfGeneration(token) && !s.request.sampling().bansEndOfGeneration()) {
            finish(s, FinishReason.STOP);
            return true;
        }
        s.append(token);
        counts.generatedTokens++;
        try {
            if (logprobs != null) {
                s.observer.onLogprobs(logprobs);
            }
            s.observer.onToken(token);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "observer failed; cancelling its sequence", e);
            finish(s, FinishReason.CANCELLED);
            return true;
        }
        int max = s.request.maxTokens();
        int context = s.request.context(config.contextPerSequence());
        if ((max > 0 && s.generated >= max) || (s.length >= context && !shift(s, context))) {
            finish(s, FinishReason.LENGTH);
            return true;
        }
        return false;
    }

    /**
     * Ollama's context shift for a sequence whose context is full (its new token not decoded yet): keeps its first
     * tokens, drops half of the room after them from the cache and from its tokens, and moves the rest down. False
     * when the request did not ask for it or the engine cannot (the sequence then ends at its length).
     */
    private boolean shift(Sequence s, int context) {
        int keep = s.request.shiftKeep();
        if (keep == GenerationRequest.NO_SHIFT || s.embedding || s.cached < 2) {
            return false;
        }
        // as Ollama's runner: at most all but one of the cached tokens kept, at least one dropped
        keep = Math.clamp(keep < 0 ? s.promptLength : keep, 1, s.cached - 1);
        int discard = Math.min(Math.max((context - keep) / 2, 1), s.cached - keep);
        if (!session.shift(s.id, keep, discard)) {
            return false;
        }
        s.shift(keep, discard);
        cells.shifted(discard);
        LOG.log(System.Logger.Level.DEBUG, "runner {0}: sequence {1} shifted its context by {2} tokens after {3}",
                name, s.id, discard, keep);
        return true;
    }

    /** The cache is full: recompute the newest sequence later, or end the only one at its length. */
    private void preemptNewest() {
        if (cells.evictAll()) {
            return; // parked cells go first: the step is retried with them free
        }
        Sequence victim = active.getLast();
        if (active.size() == 1) {
            finish(victim, FinishReason.LENGTH);
            return;
        }
        release(victim);
        victim.cached = 0;
        if (victim.embedding) {
            victim.pooled = null; // admitted again, it starts over
        }
        victim.preemptions++;
        counts.preemptions++;
        waiting.addFirst(victim);
        activeCount = active.size();
        LOG.log(System.Logger.Level.DEBUG, "runner {0}: KV cache full, preempted a sequence of {1} tokens",
                name, victim.length);
    }

    /** Takes a sequence out of the batch: frees its cells, its slot and its sampler. */
    private void release(Sequence s) {
        release(s, false);
    }

    /** {@link #release}, keeping a generation's cells parked in its slot when {@code keepCells}. */
    private void release(Sequence s, boolean keepCells) {
        active.remove(s);
        if (s.id >= 0) {
            cells.release(s, keepCells, MIN_REUSE);
            ids.release(s.id);
            s.id = -1;
        }
        if (s.sampler != null) {
            s.sampler.close();
            s.sampler = null;
        }
        cells.publish(counts); // for stats(), read from other threads
    }

    private void finish(Sequence s, FinishReason reason) {
        release(s, true);
        inbox.settled(s);
        activeCount = active.size();
        if (reason == FinishReason.CANCELLED) {
            counts.cancelled++;
        } else {
            counts.completed++;
        }
        long now = System.nanoTime();
        long admitted = s.admittedAt == 0 ? now : s.admittedAt;
        long first = s.firstTokenAt == 0 ? now : s.firstTokenAt;
        GenerationMetrics m = new GenerationMetrics(s.promptLength, s.generated, admitted - s.submittedAt,
                first - admitted, now - first, now - s.submittedAt, s.preemptions, s.reused);
        try {
            s.observer.onFinish(reason, m);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "observer failed in onFinish", e);
        }
    }

    private void fail(Sequence s, Throwable error) {
        release(s);
        inbox.settled(s);
        activeCount = active.size();
        try {
            s.observer.onError(error);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "observer failed in onError", e);
        }
    }

    private void failAll(Throwable error) {
        for (Sequence s : List.copyOf(active)) {
            fail(s, error);
        }
        for (Sequence s; (s = waiting.poll()) != null; ) {
            fail(s, error);
        }
        for (Sequence s; (s = inbox.poll()) != null; ) {
            fail(s, error);
        }
    }

    /** Stops the runner: in-flight and queued generations fail with "unloaded"; the session is closed. */
    @Override
    public void close() {
        running = false;
        if (Thread.currentThread() != thread) {
            thread.interrupt();
            // Wait for the thread to leave its decode, however long: the engine is freed after this returns, and
            // freeing it under a running decode would crash the process.
            boolean interrupted = false;
            while (thread.isAlive()) {
                try {
                    thread.join(10_000);
                    if (thread.isAlive()) {
                        LOG.log(System.Logger.Level.WARNING, "runner {0} is still finishing a step", name);
                    }
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        // A submit that raced with the runner's last sweep is failed here, so no caller waits forever.
        IllegalStateException unloaded = new IllegalStateException("model " + name + " was unloaded");
        for (Sequence s; (s = inbox.poll()) != null; ) {
            inbox.settled(s);
            try {
                s.observer.onError(unloaded);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "observer failed in onError", e);
            }
        }
    }

    public boolean isRunning() {
        return running;
    }
}
