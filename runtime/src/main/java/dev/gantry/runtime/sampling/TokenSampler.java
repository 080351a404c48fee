package dev.gantry.runtime.sampling;

import dev.gantry.runtime.engine.SamplingParams;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Chooses one sequence's next token from its logits, in Java, with Ollama's options: repetition penalties, banned
 * tokens (llama-server's {@code ignore_eos}), then top-k, typical, top-p, min-p, temperature and a seeded draw, in
 * llama.cpp's order; greedy at temperature 0.
 *
 * <p>Why not llama.cpp's sampler chain: its host chain builds a candidate array of the whole vocabulary per token
 * (128K entries for Llama 3) and its device chain sorts it on the GPU; at 64 sequences either cost about as much
 * as the decode itself. Here a scan of the row keeps the k best in a small heap ({@link TopK}: block maxima first,
 * then only the blocks that can hold a candidate), everything after works on those k, and a runner samples its
 * sequences on several cores at once ({@link ParallelSampling}).
 *
 * <p>A grammar is a {@link TokenConstraint}: checked against the token drawn, applied to the whole row only when it
 * rejects that token.
 *
 * <p>Not thread-safe: one per sequence; different samplers may run on different threads at once.
 */
public final class TokenSampler {
    private final SamplingParams p;
    private final int vocab;
    private final int[] banned;
    private final SplittableRandom random;
    // recent tokens for the penalties: the last repeat_last_n, or every token (repeat_last_n -1, Ollama's "the whole
    // context"), in an array that grows as they come (up to the window, then it wraps): a window of 2147483647 once
    // allocated 8 GB at the first token and took the runner down
    private int[] recent;
    /** How many recent tokens the penalties count: 0 without penalties, Integer.MAX_VALUE for every token. */
    private final int window;
    private int recentCount;
    private int recentNext;

    // scratch, reused across tokens
    private final int k;
    private final float[] heapValues;
    private final int[] heapIds;
    private final float[] probs;
    private TokenConstraint constraint;

    /**
     * @param banned  tokens that may never be chosen (end-of-generation tokens when {@code ignoreEos})
     * @param history the tokens so far (prompt), for the penalties' window
     */
    public TokenSampler(SamplingParams params, int vocabSize, int[] banned, int[] history) {
        this.p = params;
        this.vocab = vocabSize;
        this.banned = banned.clone();
        Arrays.sort(this.banned); // a part of a split draw looks its range up
        long seed = params.seed() >= 0 ? params.seed() : ThreadLocalRandom.current().nextLong();
        this.random = new SplittableRandom(seed);
        this.window = !params.penalized() ? 0 : params.repeatLastN() < 0 ? Integer.MAX_VALUE : params.repeatLastN();
        this.recent = new int[Math.min(window, Math.max(64, history.length + 64))];
        this.k = params.topK() > 0 ? Math.min(params.topK(), vocabSize) : vocabSize;
        this.heapValues = new float[k];
        this.heapIds = new int[k];
        this.probs = new float[k];
        if (window > 0) {
            int from = (int) Math.max(0, (long) history.length - window);
            for (int i = from; i < history.length; i++) {
                accept(history[i]);
            }
        }
    }

    /** Records a chosen token for the penalties (the sampler's own choices are recorded by {@link #sample}). */
    public void accept(int token) {
        if (window == 0) {
            return;
        }
        if (recentCount < window) { // filling: append, growing the array up to the window
            if (recentCount == recent.length) {
                recent = Arrays.copyOf(recent, (int) Math.min(window, 2L * recent.length));
            }
            recent[recentCount++] = token; // once full, the oldest is at 0, where recentNext is
            return;
        }
        recent[recentNext] = token; // full: the newest replaces the oldest
        recentNext = (recentNext + 1) % window;
    }

    /**
     * Per thread, the arrays native rows are copied into, one for each of the last two vocabulary sizes (exactly
     * that long: a constraint works on the whole array). A worker that samples many sequences reuses one array
     * that stays in its cache; an array per sampler (128 sequences of 512 KB a runner) made every copy miss the
     * cache twice, once to read the array in and once to write it back.
     */
    private static final ThreadLocal<float[][]> ROWS = ThreadLocal.withInitial(() -> new float[2][]);

    private float[] scratchRow() {
        float[][] held = ROWS.get();
        if (held[0] != null && held[0].length == vocab) {
            return held[0];
        }
        if (held[1] != null && held[1].length == vocab) {
            float[] row = held[1];
            held[1] = held[0];
            held[0] = row;
            return row;
        }
        held[1] = held[0];
        held[0] = new float[vocab];
        return held[0];
    }

    /**
     * Chooses a token from a row of {@code vocabSize} floats in native memory and records it. The row is copied
     * into the calling thread's scratch array first, so samplers running on one thread must not nest.
     */
    public int sample(MemorySegment logits) {
        float[] row = scratchRow();
        MemorySegment.copy(logits, ValueLayout.JAVA_FLOAT, 0, row, 0, vocab); // one stream from memory the GPU wrote
        return sample(row);
    }

    /**
     * Chooses a token from {@code logits} (modified in place: penalties, bans, the constraint) and records it.
     * With a constraint, the draw is checked against it and made again from the restricted row only when the
     * constraint rejects it.
     */
    public int sample(float[] logits) {
        prepare(logits);
        int token = choose(logits);
        if (constraint != null && !constraint.allows(token)) {
            if (constraint.restrict(logits) == 0) {
                return constraint.endToken(); // nothing may come next: end here, the constraint left as it was
            }
            token = choose(logits);
            if (!(logits[token] > Float.NEGATIVE_INFINITY)) {
                // the allowed logits are all NaN (a broken row): the draw fell back to a token the constraint
                // rejects, which llama.cpp's grammar would abort on
                return constraint.endToken();
            }
        }
        accept(token);
        if (constraint != null) {
            constraint.accept(token);
        }
        return token;
    }

    // A draw split over several threads (a step of few sequences on a host with idle cores): each part copies,
    // penalizes and scans its share of the row; the merge of the parts' candidates and the draw come after.
    private int splitParts;
    private float[][] partValues = new float[0][];
    private int[][] partIds = new int[0][];
    private int[] partSizes = new int[0];
    private int[] partBest = new int[0]; // greedy: each part's first largest finite logit, or -1
    // before each draw, whole or split: the distinct recent tokens, ascending, and how often each came
    private int[] penaltyTokens = new int[0];
    private int[] penaltyCounts = new int[0];
    private int penaltyCount;

    /** Whether a draw may be split over threads ({@link #beginSplit}): not under a constraint (it takes whole rows). */
    public boolean splittable() {
        return constraint == null;
    }

    /** Readies a draw split into {@code parts} parts; on the thread that then hands out the parts. */
    public void beginSplit(int parts) {
        splitParts = parts;
        int room = Math.min(k, (vocab + parts - 1) / parts); // a part keeps at most its range's tokens
        if (partSizes.length < parts || partValues[0].length < room) {
            partValues = new float[parts][room];
            partIds = new int[parts][room];
            partSizes = new int[parts];
            partBest = new int[parts];
        }
        countRecent();
    }

    /**
     * Part {@code part} of a split draw: copies its share of the row from native memory into {@code row} (one array
     * for the whole row, shared by the parts), applies the penalties and bans that fall in it, and keeps its best
     * candidates (its first largest logit when greedy). The parts of one draw may run on different threads at once.
     */
    public void scanPart(MemorySegment logits, float[] row, int part) {
        int from = (int) ((long) vocab * part / splitParts);
        int to = (int) ((long) vocab * (part + 1) / splitParts);
        MemorySegment.copy(logits, ValueLayout.JAVA_FLOAT, (long) from * Float.BYTES, row, from, to - from);
        prepareRange(row, from, to);
        int size = TopK.heap(row, from, to, p.greedy() ? 1 : k, partValues[part], partIds[part]);
        if (p.greedy()) { // the part's first largest logit: the best of one in the heap's order
            partBest[part] = size == 0 ? -1 : partIds[part][0];
            return;
        }
        TopK.sortCandidates(partValues[part], partIds[part], size);
        partSizes[part] = size;
    }

    /**
     * Merges the parts' candidates into the row's (the same, in the same order, as a draw over the whole row
     * finds), draws and records the token. After every part finished.
     */
    public int finishSplit(float[] row) {
        int token;
        if (p.greedy()) {
            token = 0; // every logit -inf or NaN: token 0, as the whole-row argmax gives
            float max = Float.NEGATIVE_INFINITY;
            for (int part = 0; part < splitParts; part++) {
                int best = partBest[part];
                if (best >= 0 && row[best] > max) {
                    max = row[best];
                    token = best;
                }
            }
        } else {
            int n = mergeParts();
            if (n == 0) {
                heapValues[0] = 0;
                heapIds[0] = 0; // every logit -inf or NaN: token 0, as the whole-row argmax gives
                n = 1;
            }
            token = drawFrom(n);
        }
        accept(token);
        return token;
    }

    /** The best k of the parts' sorted candidates into heapValues/heapIds, in order; returns how many. */
    private int mergeParts() {
        int[] next = new int[splitParts];
        int n = 0;
        while (n < k) {
            int from = -1;
            for (int part = 0; part < splitParts; part++) {
                // parts cover ascending token ranges: of equal logits the earlier part's comes first
                if (next[part] < partSizes[part] && (from < 0
                        || partValues[part][next[part]] > partValues[from][next[from]])) {
                    from = part;
                }
            }
            if (from < 0) {
                break;
            }
            heapValues[n] = partValues[from][next[from]];
            heapIds[n++] = partIds[from][next[from]++];
        }
        return n;
    }

    /**
     * Makes every later draw keep to {@code c} (owned from here: {@link #close()} closes it); feed it the tokens
     * generated so far first.
     */
    public TokenSampler constrainedBy(TokenConstraint c) {
        this.constraint = c;
        return this;
    }

    /** Frees the constraint, if any. */
    public void close() {
        if (constraint != null) {
            constraint.close();
        }
    }

    private int choose(float[] logits) {
        return p.greedy() ? argmax(logits) : draw(logits);
    }

    /** Counts the recent tokens for the penalties: each distinct one and how often it came. */
    private void countRecent() {
        penaltyCount = 0;
        if (recentCount == 0) {
            return;
        }
        int[] tokens = Arrays.copyOf(recent, recentCount);
        Arrays.sort(tokens);
        if (penaltyTokens.length < tokens.length) {
            penaltyTokens = new int[tokens.length];
            penaltyCounts = new int[tokens.length];
        }
        for (int i = 0; i < tokens.length; ) {
            int j = i;
            while (j < tokens.length && tokens[j] == tokens[i]) {
                j++;
            }
            penaltyTokens[penaltyCount] = tokens[i];
            penaltyCounts[penaltyCount++] = j - i;
            i = j;
        }
    }

    /**
     * llama.cpp's penalties for the tokens {@link #countRecent} counted (repeat: divide a positive logit, multiply a
     * negative one; frequency; presence), then the bans, for the tokens in {@code [from, to)}, in place.
     */
    private void prepareRange(float[] logits, int from, int to) {
        for (int i = firstAtLeast(penaltyTokens, penaltyCount, from); i < penaltyCount; i++) {
            int t = penaltyTokens[i];
            if (t >= to) {
                break;
            }
            float l = logits[t];
            l = l <= 0 ? l * p.repeatPenalty() : l / p.repeatPenalty();
            logits[t] = l - penaltyCounts[i] * p.frequencyPenalty() - p.presencePenalty();
        }
        for (int i = firstAtLeast(banned, banned.length, from); i < banned.length && banned[i] < to; i++) {
            logits[banned[i]] = Float.NEGATIVE_INFINITY;
        }
    }

    /** The index of the first of {@code sorted[0..n)} that is at least {@code value} ({@code n} when none is). */
    private static int firstAtLeast(int[] sorted, int n, int value) {
        int lo = 0;
        int hi = n;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < value) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    /** The first largest logit; NaN never wins (0 when every logit is NaN or -inf). */
    private int argmax(float[] logits) {
        return TopK.heap(logits, 0, vocab, 1, heapValues, heapIds) == 0 ? 0 : heapIds[0];
    }

    private int draw(float[] logits) {
        return drawFrom(topK(logits));
    }

    /** Draws from the first {@code n} candidates in heapValues/heapIds, sorted by logit, descending. */
    private int drawFrom(int n) {
        if (p.typicalP() < 1f) {
            n = typical(n);
        }
        if (p.topP() < 1f) {
            softmax(n, 1f);
            float cum = 0;
            int keep = n;
            for (int i = 0; i < n; i++) {
                cum += probs[i];
                if (cum >= p.topP()) {
                    keep = i + 1;
                    break;
                }
            }
            n = Math.max(1, keep);
        }
        if (p.minP() > 0f) {
            double floor = heapValues[0] + Math.log(p.minP());
            int keep = 1;
            while (keep < n && heapValues[keep] >= floor) {
                keep++;
            }
            n = keep;
        }
        softmax(n, p.temperature());
        double u = random.nextDouble();
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += probs[i];
            if (u < cum) {
                return heapIds[i];
            }
        }
        return heapIds[n - 1];
    }

    /** The top-k candidates' token ids, best first, after penalties and bans (for tests of the scan). */
    int[] candidates(float[] logits) {
        prepare(logits);
        return java.util.Arrays.copyOf(heapIds, topK(logits));
    }

    /** The penalties and the bans, in place. */
    private void prepare(float[] logits) {
        countRecent();
        prepareRange(logits, 0, vocab);
    }

    /**
     * Keeps the k largest logits in a min-heap, then sorts them (by logit, descending; equal logits by token id).
     * Returns how many there are (fewer than k only when the vocabulary is smaller or most logits are -inf).
     */
    private int topK(float[] logits) {
        int size = TopK.heap(logits, 0, vocab, k, heapValues, heapIds);
        if (size == 0) { // everything banned (or NaN): token 0 rather than fail
            heapValues[0] = 0;
            heapIds[0] = 0; // no finite logit at all: token 0, as greedy gives
            return 1;
        }
        TopK.sortCandidates(heapValues, heapIds, size);
        return size;
    }

    /** Probabilities of the first n candidates at temperature t into {@link #probs}. */
    private void softmax(int n, float t) {
        float max = heapValues[0];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double e = Math.exp((heapValues[i] - max) / t);
            probs[i] = (float) e;
            sum += e;
        }
        for (int i = 0; i < n; i++) {
            probs[i] = (float) (probs[i] / sum);
        }
    }

    /**
     * Locally typical sampling (llama.cpp's order of operations): keep the candidates whose surprise is closest to
     * the entropy until their probability adds up to typical_p. Reorders the kept candidates by closeness, then
     * back into descending logit order.
     */
    private int typical(int n) {
        softmax(n, 1f);
        double entropy = 0;
        for (int i = 0; i < n; i++) {
            if (probs[i] > 0) {
                entropy -= probs[i] * Math.log(probs[i]);
            }
        }
        Integer[] order = new Integer[n];
        double[] distance = new double[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
            distance[i] = Math.abs(-Math.log(Math.max(probs[i], Float.MIN_VALUE)) - entropy);
        }
        Arrays.sort(order, (a, b) -> Double.compare(distance[a], distance[b]));
        double cum = 0;
        int keep = n;
        for (int i = 0; i < n; i++) {
            cum += probs[order[i]];
            if (cum > p.typicalP()) {
                keep = i + 1;
                break;
            }
        }
        keep = Math.max(1, keep);
        int[] keptIndexes = new int[keep];
        for (int i = 0; i < keep; i++) {
            keptIndexes[i] = order[i];
        }
        Arrays.sort(keptIndexes); // original indexes are in descending logit order
        float[] v = new float[keep];
        int[] ids = new int[keep];
        for (int i = 0; i < keep; i++) {
            v[i] = heapValues[keptIndexes[i]];
            ids[i] = heapIds[keptIndexes[i]];
        }
        System.arraycopy(v, 0, heapValues, 0, keep);
        System.arraycopy(ids, 0, heapIds, 0, keep);
        return keep;
    }
}
