package dev.gantry.runtime.runner;

/**
 * The pooled embedding of one input, as the model produced it (not normalised).
 *
 * @param promptTokens tokens of the input that were decoded
 * @param queueNanos   from submission to a sequence slot
 * @param totalNanos   from submission to the pooled vector
 */
public record Embedding(float[] vector, int promptTokens, long queueNanos, long totalNanos) {}
