package dev.gantry.runtime.engine.llama;

/**
 * How many forward passes llama.cpp makes of a batch when each sequence has its own KV stream (an equal split,
 * sequential): each pass takes, among the tokens not yet taken and in batch order, a run of sequences with
 * consecutive increasing ids (the first such token's sequence, then the next id, and so on), and from each of them
 * the same number of tokens: as many as the run's sequence with the fewest left has, within the pass's token limit.
 * Counted from the sequence id of each token; the arrays are reused, so one instance per session.
 */
final class MicroBatches {
    private boolean[] taken = new boolean[0];
    private int[] left = new int[0];

    int count(int[] sequenceOf, int n, int maxTokens) {
        if (taken.length < n) {
            taken = new boolean[Math.max(n, 2 * taken.length)];
        }
        java.util.Arrays.fill(taken, 0, n, false);
        int remaining = n;
        int passes = 0;
        while (remaining > 0) {
            int first = -1;
            int last = -1;
            for (int i = 0; i < n; i++) {
                if (taken[i]) {
                    continue;
                }
                if (first < 0) {
                    first = last = sequenceOf[i];
                } else if (sequenceOf[i] == last + 1 && last + 1 - first < maxTokens) {
                    last++;
                }
            }
            int run = last - first + 1;
            if (left.length < run) {
                left = new int[Math.max(run, 2 * left.length)];
            }
            java.util.Arrays.fill(left, 0, run, 0);
            for (int i = 0; i < n; i++) {
                int s = sequenceOf[i] - first;
                if (!taken[i] && s >= 0 && s < run) {
                    left[s]++;
                }
            }
            int each = Integer.MAX_VALUE;
            for (int s = 0; s < run; s++) {
                each = Math.min(each, left[s]);
            }
            each = Math.min(each, Math.max(1, maxTokens / run));
            for (int s = 0; s < run; s++) {
                left[s] = each; // now: tokens still to take from sequence first + s in this pass
            }
            for (int i = 0; i < n; i++) {
                int s = sequenceOf[i] - first;
                if (!taken[i] && s >= 0 && s < run && left[s] > 0) {
                    taken[i] = true;
                    left[s]--;
                    remaining--;
                }
            }
            passes++;
        }
        return passes;
    }
}
