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
}
