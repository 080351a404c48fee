package dev.gantry.runtime.sampling;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The log probability of a chosen token under the model's distribution (the softmax of its raw logits, before
 * penalties, temperature or truncation, as Ollama and llama-server report it), and the {@code top} most likely
 * tokens with theirs, most likely first.
 */
public record TokenLogprobs(int token, float logprob, int[] topTokens, float[] topLogprobs) {
    /** Most alternatives a request may ask for (OpenAI's and Ollama's limit). */
    public static final int MAX_TOP = 20;

    /** From a row of {@code vocab} logits in native memory; {@code scratch} holds at least {@code vocab} floats. */
    public static TokenLogprobs of(MemorySegment logits, int vocab, int token, int top, float[] scratch) {
        MemorySegment.copy(logits, ValueLayout.JAVA_FLOAT, 0, scratch, 0, vocab);
        return of(scratch, vocab, token, top);
    }

    /** Each sampling thread's copy of a row, for {@link #ofRows}. */
    private static final ThreadLocal<float[]> ROWS = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * {@link #of(MemorySegment, int, int, int, float[])} for the first {@code n} {@code rows}, each with its own
     * token and top, on the calling runner's sampling cores ({@link ParallelSampling#forEach}); a failure of any
     * is thrown once all are done.
     */
    public static TokenLogprobs[] ofRows(MemorySegment[] rows, int vocab, int[] tokens, int[] tops, int n) {
        TokenLogprobs[] out = new TokenLogprobs[n];
        Throwable[] failed = ParallelSampling.forEach(n, i -> {
            float[] row = ROWS.get();
            if (row.length < vocab) {
                row = new float[vocab];
                ROWS.set(row);
            }
            out[i] = of(rows[i], vocab, tokens[i], tops[i], row);
        });
        if (failed != null) {
            for (Throwable t : failed) {
                if (t instanceof RuntimeException e) {
                    throw e;
                } else if (t instanceof Error e) {
                    throw e;
                }
            }
        }
        return out;
    }

    /** From the first {@code vocab} logits of {@code row}. */
    public static TokenLogprobs of(float[] row, int vocab, int token, int top) {
        top = Math.max(0, Math.min(top, Math.min(MAX_TOP, vocab)));
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            if (row[i] > max) { // NaN never is
                max = row[i];
            }
        }
        if (max == Float.NEGATIVE_INFINITY) {
            return new TokenLogprobs(token, Float.NEGATIVE_INFINITY, new int[0], new float[0]);
        }
        double sum = sumExp(row, vocab, max);
        if (!(sum >= 1) || Double.isInfinite(sum)) {
            sum = exactSumExp(row, vocab, max); // a NaN or an infinite logit: the exact sum gives it no mass
        }
        int[] ids = new int[top];
        float[] values = new float[top];
        int kept = 0;
        // the likeliest: the inner loop only looks for the next logit above the list's floor (-inf, never NaN, until
        // the list is full), which is quick; pushing into the list happens outside it
        float floor = Float.NEGATIVE_INFINITY;
        for (int i = 0; top > 0; i++) {
            while (i < vocab && !(row[i] > floor)) {
                i++;
            }
            if (i >= vocab) {
                break;
            }
            float v = row[i];
            // insertion into the sorted top list; equal logits keep the lower id first
            int at = kept < top ? kept++ : top - 1;
            while (at > 0 && values[at - 1] < v) {
                values[at] = values[at - 1];
                ids[at] = ids[at - 1];
                at--;
            }
            values[at] = v;
            ids[at] = i;
            if (kept == top) {
                floor = values[top - 1];
            }
        }
        // each as (logit - max) - log(sum): subtracting the maximum first keeps large logits exact
        double logSum = Math.log(sum);
        float[] logprobs = new float[kept];
        for (int i = 0; i < kept; i++) {
            logprobs[i] = (float) ((values[i] - max) - logSum);
        }
        float chosen = token >= 0 && token < vocab && row[token] > Float.NEGATIVE_INFINITY
                ? (float) ((row[token] - max) - logSum) : Float.NEGATIVE_INFINITY;
        return new TokenLogprobs(token, chosen, java.util.Arrays.copyOf(ids, kept), logprobs);
    }

    /** The sum of {@code exp(row[i] - max)}, one {@link Math#exp} a logit, without mass for -inf or NaN. */
    static double exactSumExp(float[] row, int vocab, float max) {
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            float v = row[i];
            if (v > Float.NEGATIVE_INFINITY) {
                sum += Math.exp(v - max);
            }
        }
        return sum;
    }

    private static final int BLOCK = 1024;
    private static final float LOG2E = 1.442695f;
    /** 1.5 * 2^23: adding and subtracting it rounds a float of magnitude below 2^22 to an integer. */
    private static final float ROUND = 12582912f;
    // 2^f = e^(f ln 2) for |f| <= 1/2 by its Taylor polynomial to the 6th power: within 1.2e-7 of it
    private static final float C1 = 0.6931472f;
    private static final float C2 = 0.2402265f;
    private static final float C3 = 0.05550411f;
    private static final float C4 = 0.009618129f;
    private static final float C5 = 0.0013333558f;
    private static final float C6 = 1.5403530e-4f;

    /**
     * {@link #exactSumExp} for rows of finite logits, seven times faster on a 128K row: each exponent as
     * {@code 2^n * 2^f} (n an integer, f within a half of 0, 2^f a polynomial), in blocks whose loop the JIT makes
     * vector instructions of, 2^n written as float bits into an int array and read back as floats through a memory
     * segment (the float-from-bits call itself stops the vectorizer), and the block summed in eight float lanes into
     * a double. A logit more than 87 below the maximum counts as e^-87 (the smallest normal float): 128K of them add
     * less than 1e-32 to a sum of at least 1. Within 1e-6 of the exact sum (relative); NaN where a logit is NaN.
     */
    static double sumExp(float[] row, int vocab, float max) {
        float[] poly = new float[BLOCK];
        int[] scale = new int[BLOCK];
        java.lang.foreign.MemorySegment scales = java.lang.foreign.MemorySegment.ofArray(scale);
        double total = 0;
        for (int from = 0; from < vocab; from += BLOCK) {
            int len = Math.min(BLOCK, vocab - from);
            // the block is copied first: a loop that reads the row at an offset from where it writes is not made
            // vector instructions of (a quarter of the speed)
            System.arraycopy(row, from, poly, 0, len);
            for (int j = 0; j < len; j++) {
                float x = Math.max(poly[j] - max, -87f) * LOG2E;
                float n = (x + ROUND) - ROUND;
                float f = x - n;
                poly[j] = 1f + f * (C1 + f * (C2 + f * (C3 + f * (C4 + f * (C5 + f * C6)))));
                scale[j] = ((int) n + 127) << 23;
            }
            float a0 = 0;
            float a1 = 0;
            float a2 = 0;
            float a3 = 0;
            float a4 = 0;
            float a5 = 0;
            float a6 = 0;
            float a7 = 0;
            int j = 0;
            for (; j + 8 <= len; j += 8) {
                a0 += poly[j] * scales.getAtIndex(ValueLayout.JAVA_FLOAT, j);
                a1 += poly[j + 1] * scales.getAtIndex(ValueLayout.JAVA_FLOAT, j + 1);
                a2 += poly[j + 2] * scales.getAtIndex(ValueLayout.JAVA_FLOAT, j + 2);
                a3 += poly[j + 3] * scales.getAtIndex(ValueLayout.JAVA_FLOAT, j + 3);
                a4 += poly[j + 4] * scales.getAtIndex(ValueLayout.JAVA_FLOAT, j + 4);
                a5 += poly[j + 5] * scales.getAtIndex(ValueLayout.JAVA_FLOAT, j + 5);
                a6 += poly[j + 6] * scales.getAtIndex(ValueLayout.JAVA_FLOAT, j + 6);
                a7 += poly[j + 7] * scales.getAtIndex(ValueLayout.JAVA_FLOAT, j + 7);
            }
            for (; j < len; j++) {
                a0 += poly[j] * scales.getAtIndex(ValueLayout.JAVA_FLOAT, j);
            }
            total += (double) ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
        }
        return total;
    }
}
