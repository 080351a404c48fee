package dev.gantry.runtime.testing;

import dev.gantry.runtime.engine.EngineSession;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.engine.SequenceSampler;
import dev.gantry.runtime.engine.SessionParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The {@link FakeEngine}'s session: a real bookkeeping of a unified KV cache (the tokens of each sequence by
 * position), a batch, and per-step statistics.
 *
 * <p>The {@link EngineSession} methods must all come from the thread that opened the session, like llama.cpp's
 * context; a call from another thread, a malformed batch or a misuse of samplers throws {@link IllegalStateException}
 * and is recorded in {@link FakeEngine#violations()}. {@link #decode()} returns {@link DecodeStatus#NO_KV_SLOT} and
 * keeps nothing when the batch needs more cells than are free: in a unified cache ({@link SessionParams#kvUnified()})
 * any sequence may use any cell; in a split one each sequence has a stream of {@code kvCells / maxSequences} cells.
 * Sampling honours {@link SamplingParams#ignoreEos()}: the script goes on where EOS would come.
 *
 * <p>The inspection methods ({@link #usedCells()}, {@link #steps()} and the other non-interface methods) are
 * thread-safe, for tests that watch a running runner.
 */
public final class FakeSession implements EngineSession {
    /**
     * One successful decode.
     *
     * @param number            1-based count of successful decodes of this session
     * @param tokensBySequence  tokens the batch carried per sequence id
     * @param outputs           tokens that asked for an output
     * @param order             the sequence id of each token, in batch order
     * @param ahead             run while the decode before's outputs were being sampled (prompt tokens ahead)
     */
    public record Step(long number, SortedMap<Integer, Integer> tokensBySequence, int outputs, List<Integer> order,
                       boolean ahead) {
        public Step {
            tokensBySequence = Collections.unmodifiableSortedMap(new TreeMap<>(tokensBySequence));
            order = List.copyOf(order);
        }

        public int tokens() {
            return tokensBySequence.values().stream().mapToInt(Integer::intValue).sum();
        }

        public int sequences() {
            return tokensBySequence.size();
        }
    }

    private final FakeEngine engine;
    private final SessionParams params;
    private final Thread owner;
    private final int kvCells;
    /** Cells one sequence may hold: all of them in a unified cache, an equal share in a split one. */
    private final int streamCells;
    private final int maxSequences;
    private final int batchCapacity;

    // the KV cache: per sequence, the tokens by position and the model's state after each
    private final int[][] content;
    private final int[][] states;
    private final int[] lengths;
    private int shifts;
    private int used;

    // the batch
    private final int[] batchTokens;
    private final int[] batchPositions;
    private final int[] batchSequences;
    private final boolean[] batchOutputs;
    private final int[] outputStates;
    private int batchSize;
    private boolean decoded;
    /** Sampling started and not joined yet: only decodes without outputs may run ({@link #startSampling}). */
    private boolean samplingPending;
    private long aheadDecodes;

    private final FakeSampler[] samplers;
    private boolean closed;

    // statistics
    private final List<Step> steps = new ArrayList<>();
    private long noKvSlot;
    private long frees;
    private int prefixesKept;
    private long truncations;
    private boolean refusedCut;
    private long moves;
    private long samplersCreated;
    private long sampled;
    private int peakUsed;

    FakeSession(FakeEngine engine, SessionParams params) {
        this.engine = engine;
        this.params = params;
        this.owner = Thread.currentThread();
        this.kvCells = params.kvCells();
        this.maxSequences = params.maxSequences();
        this.streamCells = params.kvUnified() ? kvCells : kvCells / maxSequences;
        this.batchCapacity = params.batchCapacity();
        this.content = new int[maxSequences][16];
        this.states = new int[maxSequences][16];
        this.lengths = new int[maxSequences];
        this.batchTokens = new int[batchCapacity];
        this.batchPositions = new int[batchCapacity];
        this.batchSequences = new int[batchCapacity];
        this.batchOutputs = new boolean[batchCapacity];
        this.outputStates = new int[batchCapacity];
        this.samplers = new FakeSampler[maxSequences];
    }

    // ---------------------------------------------------------------- EngineSession

    @Override
    public synchronized int kvCells() {
        check("kvCells");
        return kvCells;
    }

    @Override
    public synchronized int maxSequences() {
        check("maxSequences");
        return maxSequences;
    }

    @Override
    public synchronized int batchCapacity() {
        check("batchCapacity");
        return batchCapacity;
    }

    @Override
    public synchronized void clearBatch() {
        check("clearBatch");
        batchSize = 0;
        decoded = false;
    }

    @Override
    public synchronized int add(int token, int position, int sequence, boolean output) {
        check("add");
        if (batchSize == batchCapacity) {
            throw engine.violation("add: the batch is full (" + batchCapacity + " tokens)");
        }
        checkSequence("add", sequence);
        if (token < 0 || token >= FakeEngine.VOCAB_SIZE) {
            throw engine.violation("add: token " + token + " is outside the vocabulary");
        }
        if (position < 0) {
            throw engine.violation("add: negative position " + position);
        }
        int i = batchSize++;
        batchTokens[i] = token;
        batchPositions[i] = position;
        batchSequences[i] = sequence;
        batchOutputs[i] = output;
        decoded = false;
        return i;
    }

    @Override
    public synchronized int batchSize() {
        check("batchSize");
        return batchSize;
    }

    @Override
    public DecodeStatus decode() {
        synchronized (this) {
            check("decode");
            if (samplingPending) {
                for (int i = 0; i < batchSize; i++) {
                    if (batchOutputs[i]) {
                        throw engine.violation("decode: batch index " + i + " is an output while the last decode's "
                                + "outputs are still being sampled (its rows would be overwritten)");
                    }
                }
                aheadDecodes++; // counted before the gate: one that fails there counts too
            }
        }
        engine.beforeDecode(); // gate, delay and failure injection, outside the lock so tests can inspect meanwhile
        synchronized (this) {
            check("decode");
            if (batchSize == 0) {
                throw engine.violation("decode of an empty batch");
            }
            // positions must continue each sequence's cache contiguously
            int[] next = lengths.clone();
            for (int i = 0; i < batchSize; i++) {
                int s = batchSequences[i];
                if (batchPositions[i] != next[s]) {
                    throw engine.violation("decode: sequence " + s + " has token " + i + " of the batch at position "
                            + batchPositions[i] + " where " + next[s] + " was expected");
                }
                next[s]++;
            }
            boolean fits = used + batchSize <= kvCells;
            for (int s = 0; s < maxSequences && fits; s++) {
                fits = next[s] <= streamCells;
            }
            if (!fits) {
                noKvSlot++;
                decoded = false;
                return DecodeStatus.NO_KV_SLOT;
            }
            TreeMap<Integer, Integer> bySequence = new TreeMap<>();
            List<Integer> order = new ArrayList<>(batchSize);
            int outputs = 0;
            for (int i = 0; i < batchSize; i++) {
                int s = batchSequences[i];
                int pos = batchPositions[i];
                ensureCapacity(s, pos + 1);
                int before = pos == 0 ? 0 : states[s][pos - 1];
                content[s][pos] = batchTokens[i];
                states[s][pos] = engine.advance(before, batchTokens[i]);
                lengths[s] = pos + 1;
                bySequence.merge(s, 1, Integer::sum);
                order.add(s);
                outputStates[i] = states[s][pos];
                if (batchOutputs[i]) {
                    outputs++;
                }
            }
            used += batchSize;
            peakUsed = Math.max(peakUsed, used);
            steps.add(new Step(steps.size() + 1, bySequence, outputs, order, samplingPending));
            decoded = true;
            return DecodeStatus.OK;
        }
    }

    @Override
    public synchronized SequenceSampler newSampler(int sequence, SamplingParams sampling, int[] history) {
        check("newSampler");
        checkNotSampling("newSampler");
        Throwable injected = engine.takeNewSamplerFailure();
        if (injected instanceof Error e) {
            throw e;
        } else if (injected instanceof RuntimeException e) {
            throw e;
        }
        checkSequence("newSampler", sequence);
        if (samplers[sequence] != null) {
            throw engine.violation("newSampler: sequence " + sequence + " still has an open sampler");
        }
        if (history == null || history.length == 0) {
            throw engine.violation("newSampler: a sequence's history holds at least its prompt");
        }
        // a sequence may start with cells kept from an earlier one (a reused prefix): exactly its history's first
        // tokens, and at least one token left to decode
        if (lengths[sequence] >= history.length) {
            throw engine.violation("newSampler: sequence " + sequence + " is reused with " + lengths[sequence]
                    + " cells still in the cache, as many as its history");
        }
        for (int i = 0; i < lengths[sequence]; i++) {
            if (content[sequence][i] != history[i]) {
                throw engine.violation("newSampler: sequence " + sequence + " keeps a cell at position " + i
                        + " that differs from its history");
            }
        }
        boolean onDevice = params.backendSampling() && engine.info().backendSamplingSupported()
                && !sampling.penalized();
        FakeSampler s = new FakeSampler(sequence, sampling, history.clone(), onDevice);
        samplers[sequence] = s;
        samplersCreated++;
        return s;
    }

    @Override
    public synchronized int sample(SequenceSampler sampler, int outputIndex) {
        check("sample");
        checkNotSampling("sample");
        if (!(sampler instanceof FakeSampler s) || s.session() != this) {
            throw engine.violation("sample: a sampler of another session");
        }
        if (s.closed) {
            throw engine.violation("sample: sampler of sequence " + s.sequence + " is closed");
        }
        if (!decoded) {
            throw engine.violation("sample: no successful decode of the current batch");
        }
        if (outputIndex < 0 || outputIndex >= batchSize || !batchOutputs[outputIndex]) {
            throw engine.violation("sample: batch index " + outputIndex + " is not an output of the last decode");
        }
        if (batchSequences[outputIndex] != s.sequence) {
            throw engine.violation("sample: batch index " + outputIndex + " belongs to sequence "
                    + batchSequences[outputIndex] + ", sampled with the sampler of sequence " + s.sequence);
        }
        if (engine.takeSampleFailure(s.sequence)) {
            throw new IllegalStateException("injected sampling failure of sequence " + s.sequence);
        }
        int token = engine.next(outputStates[outputIndex], s.params.ignoreEos());
        s.accepted++;
        sampled++;
        return token;
    }

    @Override
    public synchronized boolean decodesAhead() {
        check("decodesAhead");
        return engine.decodesAhead();
    }

    /**
     * Samples every output now, as llama.cpp's rows are located before the call returns, and hands the tokens over at
     * the join; until then a decode must have no output, and sampling again is a misuse.
     */
    @Override
    public synchronized PendingSamples startSampling(SequenceSampler[] samplers, int[] outputIndexes, int n,
                                                     int[] tokens) {
        check("startSampling");
        if (!engine.decodesAhead()) {
            return null;
        }
        if (samplingPending) {
            throw engine.violation("startSampling: the sampling started before was not joined");
        }
        int[] drawn = new int[n];
        Throwable[] failures = null;
        for (int i = 0; i < n; i++) {
            try {
                drawn[i] = sample(samplers[i], outputIndexes[i]);
            } catch (IllegalStateException e) {
                failures = failures == null ? new Throwable[n] : failures;
                failures[i] = e;
            }
        }
        samplingPending = true;
        Throwable[] failed = failures;
        return () -> {
            synchronized (FakeSession.this) {
                check("join");
                samplingPending = false;
                System.arraycopy(drawn, 0, tokens, 0, n);
                if (failed != null) {
                    throw new dev.gantry.runtime.engine.SamplingException(failed);
                }
            }
        };
    }

    /** Decodes that ran while a step's outputs were being sampled (prompt tokens decoded ahead). */
    public synchronized long aheadDecodes() {
        return aheadDecodes;
    }

    @Override
    public synchronized void freeSequence(int sequence) {
        check("freeSequence");
        checkNotSampling("freeSequence");
        checkSequence("freeSequence", sequence);
        used -= lengths[sequence];
        lengths[sequence] = 0;
        frees++;
    }

    @Override
    public synchronized boolean keepPrefix(int sequence, int keep) {
        check("keepPrefix");
        checkNotSampling("keepPrefix");
        checkSequence("keepPrefix", sequence);
        if (keep < 0) {
            throw engine.violation("keepPrefix: keep " + keep);
        }
        if (!engine.keepsPrefixes()) {
            return false;
        }
        RuntimeException injected = engine.takeKeepPrefixFailure();
        if (injected != null) {
            throw injected;
        }
        int kept = Math.min(lengths[sequence], keep);
        used -= lengths[sequence] - kept;
        lengths[sequence] = kept;
        prefixesKept++;
        return true;
    }

    @Override
    public synchronized boolean shift(int sequence, int keep, int discard) {
        check("shift");
        checkNotSampling("shift");
        checkSequence("shift", sequence);
        if (keep < 0 || discard <= 0 || keep + discard > lengths[sequence]) {
            throw engine.violation("shift: sequence " + sequence + " holds " + lengths[sequence] + " cells, keep "
                    + keep + ", discard " + discard);
        }
        if (!engine.shifts()) {
            return false;
        }
        int n = lengths[sequence];
        System.arraycopy(content[sequence], keep + discard, content[sequence], keep, n - keep - discard);
        System.arraycopy(states[sequence], keep + discard, states[sequence], keep, n - keep - discard);
        lengths[sequence] = n - discard;
        used -= discard;
        shifts++;
        return true;
    }

    /** Context shifts done. */
    public synchronized int shifts() {
        return shifts;
    }

    /** The tokens sequence {@code sequence} holds in the cache, by position. */
    public synchronized int[] cachedTokens(int sequence) {
        return Arrays.copyOf(content[sequence], lengths[sequence]);
    }

    @Override
    public synchronized boolean fillsIdGaps() {
        check("fillsIdGaps");
        return engine.fillsIdGaps() && !refusedCut;
    }

    @Override
    public synchronized boolean truncate(int sequence, int position) {
        check("truncate");
        checkNotSampling("truncate");
        checkSequence("truncate", sequence);
        if (!engine.fillsIdGaps()) {
            throw engine.violation("truncate on a session that does not fill id gaps");
        }
        if (position < 0 || position > lengths[sequence]) {
            throw engine.violation("truncate: sequence " + sequence + " holds " + lengths[sequence]
                    + " cells, cut at " + position);
        }
        if (engine.refusesCuts()) {
            refusedCut = true;
            return false;
        }
        used -= lengths[sequence] - position;
        lengths[sequence] = position;
        truncations++;
        return true;
    }

    @Override
    public synchronized boolean movesSequences() {
        check("movesSequences");
        return engine.fillsIdGaps() && !refusedCut;
    }

    @Override
    public synchronized void moveSequence(int from, int to) {
        check("moveSequence");
        checkNotSampling("moveSequence");
        checkSequence("moveSequence", from);
        checkSequence("moveSequence", to);
        if (!engine.fillsIdGaps()) {
            throw engine.violation("moveSequence on a session that does not move sequences");
        }
        if (from == to || lengths[to] != 0) {
            throw engine.violation("moveSequence: " + from + " to " + to + ", which holds " + lengths[to] + " cells");
        }
        ensureCapacity(to, lengths[from]);
        System.arraycopy(content[from], 0, content[to], 0, lengths[from]);
        System.arraycopy(states[from], 0, states[to], 0, lengths[from]);
        lengths[to] = lengths[from];
        lengths[from] = 0;
        FakeSampler sampler = samplers[from];
        if (sampler != null) {
            if (sampler.onDevice) {
                throw engine.violation("moveSequence: sequence " + from + " samples on the device");
            }
            samplers[from] = null;
            samplers[to] = sampler;
            sampler.sequence = to;
        }
        moves++;
    }

    @Override
    public synchronized void close() {
        check("close");
        closed = true;
    }

    // ---------------------------------------------------------------- inspection (any thread)

    public SessionParams params() {
        return params;
    }

    /** The thread that opened the session; every session call must come from it. */
    public Thread owner() {
        return owner;
    }

    public synchronized boolean isClosed() {
        return closed;
    }

    /** Cells one sequence may hold ({@code kvCells / maxSequences} in a split cache). */
    public int streamCells() {
        return streamCells;
    }

    /** KV cells in use, all sequences together. */
    public synchronized int usedCells() {
        return used;
    }

    /** The most cells ever in use at once. */
    public synchronized int peakUsedCells() {
        return peakUsed;
    }

    /** Cells of one sequence. */
    public synchronized int cellsOf(int sequence) {
        return lengths[sequence];
    }

    /** The tokens a sequence holds in the cache, by position. */
    public synchronized int[] contentOf(int sequence) {
        return Arrays.copyOf(content[sequence], lengths[sequence]);
    }

    /** Sequences with at least one cell in the cache. */
    public synchronized int sequencesInCache() {
        int n = 0;
        for (int l : lengths) {
            if (l > 0) {
                n++;
            }
        }
        return n;
    }

    /** Successful decodes, in order. */
    public synchronized List<Step> steps() {
        return List.copyOf(steps);
    }

    public synchronized long stepCount() {
        return steps.size();
    }

    public synchronized int maxSequencesInStep() {
        return steps.stream().mapToInt(Step::sequences).max().orElse(0);
    }

    /** Decodes answered with NO_KV_SLOT. */
    public synchronized long noKvSlotCount() {
        return noKvSlot;
    }

    /** {@link #keepPrefix} calls that kept cells. */
    /** Sequences moved to another id ({@link #moveSequence}). */
    public synchronized long moves() {
        return moves;
    }

    /** Cuts through {@link #truncate} (the runner's gap placeholders taken out again). */
    public synchronized long truncations() {
        return truncations;
    }

    public synchronized int prefixesKept() {
        return prefixesKept;
    }

    /** {@link #freeSequence} calls. */
    public synchronized long freeCount() {
        return frees;
    }

    public synchronized long samplersCreated() {
        return samplersCreated;
    }

    /** Samplers created and not yet closed. */
    public synchronized int openSamplers() {
        int n = 0;
        for (FakeSampler s : samplers) {
            if (s != null) {
                n++;
            }
        }
        return n;
    }

    /** The open sampler of a sequence, or null. */
    public synchronized FakeSampler samplerOf(int sequence) {
        return samplers[sequence];
    }

    /** Tokens sampled so far. */
    public synchronized long sampledCount() {
        return sampled;
    }

    // ---------------------------------------------------------------- internals

    private void check(String call) {
        Thread t = Thread.currentThread();
        if (t != owner) {
            throw engine.violation(call + " called on thread \"" + t.getName() + "\"; the session belongs to \""
                    + owner.getName() + "\"");
        }
        if (closed) {
            throw engine.violation(call + " on a closed session");
        }
    }

    /** While a started sampling is not joined, only a decode without outputs may run (EngineSession#startSampling). */
    private void checkNotSampling(String call) {
        if (samplingPending) {
            throw engine.violation(call + " while the last decode's outputs are still being sampled");
        }
    }

    private void checkSequence(String call, int sequence) {
        if (sequence < 0 || sequence >= maxSequences) {
            throw engine.violation(call + ": sequence id " + sequence + " is outside 0.." + (maxSequences - 1));
        }
    }

    private void ensureCapacity(int sequence, int n) {
        if (content[sequence].length < n) {
            int size = Math.max(n, content[sequence].length * 2);
            content[sequence] = Arrays.copyOf(content[sequence], size);
            states[sequence] = Arrays.copyOf(states[sequence], size);
        }
    }

    private void samplerClosed(FakeSampler s) {
        Thread t = Thread.currentThread();
        if (t != owner) { // closing after the session is allowed (the real sampler outlives its context)
            throw engine.violation("SequenceSampler.close called on thread \"" + t.getName()
                    + "\"; the session belongs to \"" + owner.getName() + "\"");
        }
        if (samplers[s.sequence] == s) {
            samplers[s.sequence] = null;
        }
    }

    /** The fake's sampler: sampling itself is the model's (deterministic); it records what it was given. */
    public final class FakeSampler implements SequenceSampler {
        private int sequence; // a host sampler follows its sequence when it moves
        private final SamplingParams params;
        private final int[] history;
        private final boolean onDevice;
        private boolean closed;
        private int accepted;

        private FakeSampler(int sequence, SamplingParams params, int[] history, boolean onDevice) {
            this.sequence = sequence;
            this.params = params;
            this.history = history;
            this.onDevice = onDevice;
        }

        FakeSession session() {
            return FakeSession.this;
        }

        @Override
        public int sequence() {
            return sequence;
        }

        @Override
        public boolean onDevice() {
            return onDevice;
        }

        public SamplingParams params() {
            return params;
        }

        /** The history the sampler was created with (the prompt, or prompt and output after a preemption). */
        public int[] history() {
            return history.clone();
        }

        public int accepted() {
            synchronized (FakeSession.this) {
                return accepted;
            }
        }

        @Override
        public void close() {
            synchronized (FakeSession.this) {
                if (closed) {
                    return;
                }
                closed = true;
                samplerClosed(this);
            }
        }
    }
}
