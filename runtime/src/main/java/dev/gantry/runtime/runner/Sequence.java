package dev.gantry.runtime.runner;

import dev.gantry.runtime.engine.SequenceSampler;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One generation inside a runner: its tokens (prompt, then each sampled token), how many of them are in the KV
 * cache, and its sampler. The fields are the runner thread's; only {@link #finish} is called from elsewhere.
 */
final class Sequence implements GenerationHandle {
    final GenerationRequest request;
    final GenerationObserver observer;
    final long submittedAt;
    private final AtomicReference<FinishReason> requested = new AtomicReference<>();

    int[] tokens;
    int length;
    final int promptLength;
    /** Tokens of {@link #tokens} already in the KV cache; the rest are decoded next. */
    int cached;
    int id = -1;
    int generated;
    SequenceSampler sampler;
    int batchIndex = -1;
    int chunk;
    long admittedAt;
    long firstTokenAt;
    int preemptions;
    /** Prompt tokens its slot's parked cells held when it was last admitted. */
    int reused;
    /**
     * The next prompt position whose log probability is due, for a request that scores its prompt (from 1; a
     * preempted sequence decodes its prompt again without reporting these twice).
     */
    int promptScored = 1;
    /**
     * The batch index of each token of this step's chunk that is an output for scoring (by offset in the chunk),
     * or -1; a scoring sequence's only.
     */
    int[] scoreOutputs;
    /**
     * The log probabilities reported for its prompt, by position (from 1): kept with its cells when it parks, for a
     * request that scores a prompt starting the same way. A scoring sequence's only.
     */
    dev.gantry.runtime.sampling.TokenLogprobs[] scoredPositions;
    /** An embedding input: decoded with every token an output, pooled, never sampled. */
    final boolean embedding;
    /** Let in with a request already admitted (a later input of an embedding batch): outside the queue's bound. */
    boolean follower;
    /** The running sum (mean pooling) or the picked token's embedding (CLS, last); embedding inputs only. */
    float[] pooled;
    /**
     * Every generated token, for a sequence with a grammar: a sampler rebuilt after preemption replays them into its
     * grammar, and a context shift removes some from {@link #tokens}. Null without a grammar.
     */
    private int[] sampled;
    /** Whether a context shift removed tokens from {@link #tokens}. */
    private boolean shifted;

    Sequence(GenerationRequest request, GenerationObserver observer, long now) {
        this(request, observer, now, false);
    }

    Sequence(GenerationRequest request, GenerationObserver observer, long now, boolean embedding) {
        this.embedding = embedding;
        this.request = request;
        this.observer = observer;
        this.submittedAt = now;
        this.promptLength = request.prompt().length;
        this.tokens = Arrays.copyOf(request.prompt(), promptLength + 16);
        this.length = promptLength;
        this.sampled = !embedding && request.sampling().grammar() != null ? new int[16] : null;
    }

    int pending() {
        return length - cached;
    }

    /** Counts {@code n} more tokens in the KV cache; returns how many of them are prompt tokens decoded anew. */
    int decoded(int n) {
        int before = cached;
        cached += n;
        return Math.max(0, Math.min(cached, promptLength) - before);
    }

    /** Whether decoding prompt position {@code pos} must make an output: the next token's log probability is due. */
    boolean scores(int pos) {
        return request.promptLogprobs() && pos + 1 < promptLength && pos + 1 >= promptScored;
    }

    /** Keeps prompt position {@code pos}'s reported log probabilities, for the slot's next scoring request. */
    void keepScored(int pos, dev.gantry.runtime.sampling.TokenLogprobs lp) {
        if (scoredPositions == null) {
            scoredPositions = new dev.gantry.runtime.sampling.TokenLogprobs[promptLength];
        }
        scoredPositions[pos] = lp;
    }

    /** Records that the token at {@code offset} of this step's chunk is output {@code batchIndex} for scoring. */
    void scoreOutput(int offset, int batchIndex) {
        if (scoreOutputs == null || scoreOutputs.length <= offset) {
            int[] grown = new int[Math.max(offset + 1, scoreOutputs == null ? 16 : 2 * scoreOutputs.length)];
            Arrays.fill(grown, -1);
            if (scoreOutputs != null) {
                System.arraycopy(scoreOutputs, 0, grown, 0, scoreOutputs.length);
            }
            scoreOutputs = grown;
        }
        scoreOutputs[offset] = batchIndex;
    }

    /** A generated token. */
    void append(int token) {
        if (length == tokens.length) {
            tokens = Arrays.copyOf(tokens, tokens.length * 2);
        }
        tokens[length++] = token;
        if (sampled != null) {
            if (generated == sampled.length) {
                sampled = Arrays.copyOf(sampled, sampled.length * 2);
            }
            sampled[generated] = token;
        }
        generated++;
    }

    int[] history() {
        return Arrays.copyOf(tokens, length);
    }

    /** A context shift: the {@code discard} cached tokens after the first {@code keep} leave, the rest move down. */
    void shift(int keep, int discard) {
        System.arraycopy(tokens, keep + discard, tokens, keep, length - keep - discard);
        length -= discard;
        cached -= discard;
        shifted = true;
    }

    /**
     * What a new sampler is built from: {@link #history}, whose tokens from {@link #promptLength} on are the
     * generated ones; after a context shift, the prompt and every generated token (the shift removed some that a
     * grammar must replay).
     */
    int[] samplerHistory() {
        if (!shifted || sampled == null) {
            return history();
        }
        int[] h = Arrays.copyOf(request.prompt(), promptLength + generated);
        System.arraycopy(sampled, 0, h, promptLength, generated);
        return h;
    }

    FinishReason requestedFinish() {
        return requested.get();
    }

    @Override
    public void finish(FinishReason reason) {
        requested.compareAndSet(null, reason);
    }
}
