package dev.gantry.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class TokenLogprobsTest {
    private static final float LN2 = (float) Math.log(2);

    @Test
    void theSoftmaxOfTheRawLogitsWithTheLikeliestFirst() {
        // probabilities 1/4, 2/4, 1/4 and nothing for -inf and NaN
        float[] row = {0f, LN2, 0f, Float.NEGATIVE_INFINITY, Float.NaN};
        TokenLogprobs lp = TokenLogprobs.of(row, row.length, 2, 3);
        assertEquals(Math.log(0.25), lp.logprob(), 1e-6);
        assertArrayEquals(new int[] {1, 0, 2}, lp.topTokens(), "equal logits keep the lower id first");
        assertEquals(Math.log(0.5), lp.topLogprobs()[0], 1e-6);
        assertEquals(Math.log(0.25), lp.topLogprobs()[1], 1e-6);
        assertEquals(Float.NEGATIVE_INFINITY, TokenLogprobs.of(row, row.length, 3, 0).logprob(), "a banned token");
    }

    @Test
    void theTopIsCappedByTheVocabularyAndTheLimit() {
        float[] row = new float[40];
        for (int i = 0; i < row.length; i++) {
            row[i] = i;
        }
        TokenLogprobs lp = TokenLogprobs.of(row, row.length, 39, 99);
        assertEquals(TokenLogprobs.MAX_TOP, lp.topTokens().length);
        assertEquals(39, lp.topTokens()[0]);
        assertEquals(20, lp.topTokens()[19]);
        assertEquals(lp.logprob(), lp.topLogprobs()[0]);
        assertEquals(0, TokenLogprobs.of(new float[] {1f, 2f}, 2, 0, 0).topTokens().length);
        // large logits do not overflow: the maximum is taken out before the exponent
        TokenLogprobs big = TokenLogprobs.of(new float[] {1000f, 1000f}, 2, 0, 1);
        assertEquals(Math.log(0.5), big.logprob(), 1e-6);
    }

    @Test
    void theFastSumIsTheExactOneWithinAMillionth() {
        java.util.Random random = new java.util.Random(7);
        for (int vocab : new int[] {1, 7, 1024, 1031, 32000, 128256}) {
            for (double spread : new double[] {0.01, 3, 30, 200}) {
                float[] row = new float[vocab];
                for (int i = 0; i < vocab; i++) {
                    row[i] = (float) (random.nextGaussian() * spread);
                }
                row[random.nextInt(vocab)] = Float.NEGATIVE_INFINITY; // a banned token
                float max = Float.NEGATIVE_INFINITY;
                for (float v : row) {
                    max = Math.max(max, v);
                }
                double exact = TokenLogprobs.exactSumExp(row, vocab, max);
                if (exact == 0) {
                    continue; // the lone logit was banned
                }
                assertEquals(exact, TokenLogprobs.sumExp(row, vocab, max), exact * 1e-6, vocab + " logits, " + spread);
            }
        }
    }

    @Test
    void logprobsAgreeWithTheExactSoftmaxAndNaNHasNoMass() {
        java.util.Random random = new java.util.Random(11);
        float[] row = new float[50000];
        for (int i = 0; i < row.length; i++) {
            row[i] = (float) (random.nextGaussian() * 4);
        }
        double exact = 0;
        float max = Float.NEGATIVE_INFINITY;
        for (float v : row) {
            max = Math.max(max, v);
        }
        for (float v : row) {
            exact += Math.exp(v - max);
        }
        TokenLogprobs lp = TokenLogprobs.of(row, row.length, 123, 5);
        assertEquals((row[123] - max) - Math.log(exact), lp.logprob(), 2e-6);
        double without77 = exact - Math.exp(row[77] - max);
        boolean top77 = java.util.Arrays.stream(lp.topTokens()).anyMatch(t -> t == 77);
        row[77] = Float.NaN;
        TokenLogprobs withNaN = TokenLogprobs.of(row, row.length, 123, 5);
        assertEquals((row[123] - max) - Math.log(without77), withNaN.logprob(), 2e-6, "a NaN logit takes no mass");
        if (!top77) {
            assertArrayEquals(lp.topTokens(), withNaN.topTokens());
        }
    }

    @Test
    void tiesPastAFullTopListKeepTheLowerIds() {
        float[] row = {0f, 2f, 1f, 2f, Float.NaN, 2f, 1f, Float.NEGATIVE_INFINITY, 2f, 3f};
        TokenLogprobs lp = TokenLogprobs.of(row, row.length, 0, 3);
        assertArrayEquals(new int[] {9, 1, 3}, lp.topTokens(), "3 first, then the first two of the four 2s");
        TokenLogprobs five = TokenLogprobs.of(row, row.length, 0, 5);
        assertArrayEquals(new int[] {9, 1, 3, 5, 8}, five.topTokens());
        TokenLogprobs seven = TokenLogprobs.of(row, row.length, 0, 9);
        assertArrayEquals(new int[] {9, 1, 3, 5, 8, 2, 6, 0}, seven.topTokens(), "never NaN or -inf");
    }
}
