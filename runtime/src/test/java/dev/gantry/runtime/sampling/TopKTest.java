package dev.gantry.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class TopKTest {

    /** The k best finite logits of {@code row[from..to)} by a full sort: larger first, of equal ones the smaller id. */
    private static int[] bySort(float[] row, int from, int to, int k) {
        return IntStream.range(from, to).filter(i -> row[i] > Float.NEGATIVE_INFINITY).boxed()
                .sorted((a, b) -> row[a] != row[b] ? Float.compare(row[b], row[a]) : Integer.compare(a, b))
                .limit(k).mapToInt(Integer::intValue).toArray();
    }

    private static int[] candidates(float[] row, int from, int to, int k) {
        float[] values = new float[k];
        int[] ids = new int[k];
        int size = TopK.heap(row, from, to, k, values, ids);
        TopK.sortCandidates(values, ids, size);
        return Arrays.copyOf(ids, size);
    }

    /**
     * Rows long enough to be read by columns give the candidates a full sort gives: with ties within and across
     * columns, NaN, -inf and +inf, rows of one value, rows with nothing finite, whole rows and ranges of them (a part
     * of a split draw), for k on both sides of the columns' limit.
     */
    @Test
    void theColumnReadFindsWhatASortFinds() {
        SplittableRandom r = new SplittableRandom(31);
        for (int round = 0; round < 150; round++) {
            int n = 8 * TopK.COLUMNS + r.nextInt(round % 4 == 0 ? 200_000 : 20_000);
            float[] row = new float[n];
            int kind = round % 6;
            for (int i = 0; i < n; i++) {
                int x = r.nextInt(1000);
                row[i] = switch (kind) {
                    case 0 -> 1.5f; // every logit equal
                    case 1 -> (float) r.nextInt(3); // few values: ties in every column
                    case 2 -> x < 10 ? Float.NaN : x < 500 ? Float.NEGATIVE_INFINITY : (float) r.nextGaussian();
                    case 3 -> x == 0 ? Float.POSITIVE_INFINITY : (float) (r.nextGaussian() * 3);
                    default -> (float) (r.nextGaussian() * 2.5 + (r.nextInt(4000) == 0 ? 12 : 0));
                };
            }
            if (round % 17 == 0) {
                Arrays.fill(row, Float.NEGATIVE_INFINITY);
            }
            int k = new int[] {1, 2, 40, 128, 129}[round % 5];
            boolean part = round % 3 == 0;
            int from = part ? r.nextInt(n / 4) : 0;
            int to = part ? n - r.nextInt(n / 4) : n;
            assertArrayEquals(bySort(row, from, to, k), candidates(row, from, to, k),
                    "round " + round + ", n " + n + ", [" + from + ", " + to + "), k " + k);
        }
    }
}
