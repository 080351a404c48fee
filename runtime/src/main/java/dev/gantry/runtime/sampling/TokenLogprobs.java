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
        double sum = 0;
        int[] ids = new int[top];
        float[] values = new float[top];
        int kept = 0;
        for (int i = 0; i < vocab; i++) {
            float v = row[i];
            if (!(v > Float.NEGATIVE_INFINITY)) {
                continue; // -inf or NaN: no mass, never among the top
            }
            sum += Math.exp(v - max);
            if (top > 0 && (kept < top || v > values[kept - 1])) {
                // insertion into the sorted top list; equal logits keep the lower id first
                int at = kept < top ? kept++ : top - 1;
                while (at > 0 && values[at - 1] < v) {
                    values[at] = values[at - 1];
                    ids[at] = ids[at - 1];
                    at--;
                }
                values[at] = v;
                ids[at] = i;
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
}
