package dev.gantry.runtime.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.engine.SamplingParams;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class TokenSamplerTest {
    private static final int[] NONE = new int[0];

    private static SamplingParams params(float temperature, int topK, float topP, float minP, long seed) {
        return new SamplingParams(temperature, topK, topP, minP, 1f, seed, 1f, 64, 0f, 0f);
    }

    private static float[] randomLogits(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] l = new float[n];
        for (int i = 0; i < n; i++) {
            l[i] = (float) (r.nextGaussian() * 3);
        }
        return l;
    }

    private static int argmax(float[] l) {
        int best = 0;
        for (int i = 1; i < l.length; i++) {
            if (l[i] > l[best]) {
                best = i;
            }
        }
        return best;
    }

    @Test
    void greedyTakesTheLargestLogit() {
        float[] l = randomLogits(1000, 1);
        TokenSampler s = new TokenSampler(SamplingParams.greedyDefaults(), l.length, NONE, NONE);
        assertEquals(argmax(l), s.sample(l.clone()));
    }

    @Test
    void greedyPassesOverNans() {
        float[] l = randomLogits(1000, 4);
        int best = argmax(l);
        assertTrue(best >= 2);
        l[0] = Float.NaN; // a first NaN once hid every larger logit
        l[1] = Float.NaN;
        TokenSampler s = new TokenSampler(SamplingParams.greedyDefaults(), l.length, NONE, NONE);
        assertEquals(best, s.sample(l.clone()));
    }

    @Test
    void readsTheRowFromNativeOrHeapMemoryAlike() {
        float[] l = randomLogits(50_000, 2);
        TokenSampler a = new TokenSampler(params(0.8f, 40, 0.9f, 0f, 7), l.length, NONE, NONE);
        TokenSampler b = new TokenSampler(params(0.8f, 40, 0.9f, 0f, 7), l.length, NONE, NONE);
        for (int i = 0; i < 20; i++) {
            assertEquals(a.sample(l.clone()), b.sample(MemorySegment.ofArray(l)));
        }
    }

    /** repeat_last_n counts the last n tokens: the window fills, then each new token pushes out the oldest. */
    @Test
    void thePenaltyWindowHoldsTheLastNTokens() {
        float[] l = {5, 4, 3, 2, 1, 0.5f, 0.25f, 0.125f};
        int[] history = {0, 1, 2, 3};
        // greedy with a heavy penalty: the best token not in the window wins
        TokenSampler three = new TokenSampler(new SamplingParams(0f, 40, 1f, 0f, 1f, 1, 100f, 3, 0f, 0f), l.length,
                NONE, history);
        assertEquals(0, three.sample(l.clone()), "window {1, 2, 3}");
        assertEquals(1, three.sample(l.clone()), "window {2, 3, 0}: the first token pushed out 1");
        assertEquals(2, three.sample(l.clone()), "window {3, 0, 1}");
        TokenSampler four = new TokenSampler(new SamplingParams(0f, 40, 1f, 0f, 1f, 1, 100f, 4, 0f, 0f), l.length,
                NONE, history);
        assertEquals(4, four.sample(l.clone()), "window {0, 1, 2, 3}");
        TokenSampler all = new TokenSampler(new SamplingParams(0f, 40, 1f, 0f, 1f, 1, 100f, -1, 0f, 0f), l.length,
                NONE, history);
        assertEquals(4, all.sample(l.clone()));
        assertEquals(5, all.sample(l.clone()), "the whole context keeps every token");
    }

    /** A window of 2147483647 tokens once allocated 8 GB at once (and took the runner down): it grows with use. */
    @Test
    void aHugeWindowCostsWhatItHolds() {
        float[] l = randomLogits(1000, 21);
        SamplingParams p = new SamplingParams(0.8f, 40, 0.9f, 0f, 1f, 3, 1.1f, Integer.MAX_VALUE, 0f, 0f);
        SamplingParams whole = new SamplingParams(0.8f, 40, 0.9f, 0f, 1f, 3, 1.1f, -1, 0f, 0f);
        int[] history = new int[500];
        for (int i = 0; i < history.length; i++) {
            history[i] = (i * 37) % 1000;
        }
        TokenSampler huge = new TokenSampler(p, l.length, NONE, history);
        TokenSampler wholeContext = new TokenSampler(whole, l.length, NONE, history);
        for (int i = 0; i < 300; i++) {
            assertEquals(wholeContext.sample(l.clone()), huge.sample(l.clone()), "token " + i);
        }
    }

    /** The scan against a full sort, on rows with ties, NaNs and -inf, for small and large k. */
    @Test
    void topKFindsTheSameLogitsAsASortWouldWithTiesNansAndInfinities() {
        SplittableRandom r = new SplittableRandom(11);
        for (int round = 0; round < 40; round++) {
            int n = 1 + r.nextInt(20_000);
            float[] l = new float[n];
            for (int i = 0; i < n; i++) {
                int kind = r.nextInt(100);
                l[i] = kind == 0 ? Float.NaN : kind == 1 ? Float.NEGATIVE_INFINITY
                        : kind < 30 ? (float) r.nextInt(8) : (float) (r.nextGaussian() * 3);
            }
            int k = new int[] {1, 2, 40, 100, 1000}[round % 5];
            int[] got = new TokenSampler(params(0.8f, k, 1f, 0f, 1), n, NONE, NONE).candidates(l.clone());
            float[] sorted = l.clone();
            java.util.Arrays.sort(sorted); // ascending, NaNs last
            float[] expected = new float[Math.min(k, n)];
            int m = 0;
            for (int i = n - 1; i >= 0 && m < k; i--) {
                if (!Float.isNaN(sorted[i]) && sorted[i] != Float.NEGATIVE_INFINITY) {
                    expected[m++] = sorted[i];
                }
            }
            expected = java.util.Arrays.copyOf(expected, m);
            if (expected.length == 0) {
                assertEquals(1, got.length, "everything banned or NaN: the fallback's one candidate");
                continue;
            }
            assertEquals(expected.length, got.length, "round " + round + ", n " + n + ", k " + k);
            for (int i = 0; i < got.length; i++) {
                assertEquals(expected[i], l[got[i]], "candidate " + i + " of round " + round);
            }
            assertEquals(got.length, java.util.Arrays.stream(got).distinct().count(), "no token twice");
        }
    }

    /**
     * A draw split over parts (as a step of few sequences samples on several cores) picks exactly the token the
     * whole-row draw picks, with the same seed: on rows with ties, NaNs, -inf and banned tokens, with penalties,
     * greedy and not, for part counts that do and do not divide the row.
     */
    @Test
    void aDrawSplitIntoPartsPicksWhatTheWholeRowDrawPicks() {
        SplittableRandom r = new SplittableRandom(21);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            for (int round = 0; round < 300; round++) {
                int n = 1 + r.nextInt(round % 3 == 0 ? 40 : 30_000);
                float[] l = new float[n];
                boolean flat = round % 11 == 0; // every logit equal: ties everywhere
                for (int i = 0; i < n; i++) {
                    int kind = r.nextInt(100);
                    l[i] = flat ? 1.5f : kind == 0 ? Float.NaN : kind == 1 ? Float.NEGATIVE_INFINITY
                            : kind < 30 ? (float) r.nextInt(8) : (float) (r.nextGaussian() * 3);
                }
                if (round % 13 == 0) {
                    java.util.Arrays.fill(l, Float.NEGATIVE_INFINITY); // nothing finite: the fallback
                }
                int k = new int[] {1, 3, 40, 100}[round % 4];
                boolean greedy = round % 5 == 0;
                float penalty = round % 3 == 1 ? 1.3f : 1f;
                SamplingParams p = new SamplingParams(greedy ? 0f : 0.8f, k, round % 2 == 0 ? 0.9f : 1f,
                        round % 7 == 0 ? 0.05f : 0f, 1f, round, penalty, 64, round % 4 == 2 ? 0.3f : 0f,
                        round % 6 == 3 ? 0.2f : 0f);
                int[] banned = {r.nextInt(n), r.nextInt(n)};
                int[] history = new int[r.nextInt(100)];
                for (int i = 0; i < history.length; i++) {
                    history[i] = r.nextInt(n);
                }
                TokenSampler whole = new TokenSampler(p, n, banned, history);
                TokenSampler split = new TokenSampler(p, n, banned, history);
                int parts = 2 + r.nextInt(7);
                java.lang.foreign.MemorySegment row = arena.allocate(java.lang.foreign.ValueLayout.JAVA_FLOAT, n);
                for (int token = 0; token < 4; token++) { // later draws see the earlier ones in their penalties
                    java.lang.foreign.MemorySegment.copy(l, 0, row, java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, n);
                    int expected = whole.sample(row);
                    float[] copy = new float[n];
                    assertTrue(split.splittable());
                    split.beginSplit(parts);
                    for (int part = parts - 1; part >= 0; part--) { // in any order
                        split.scanPart(row, copy, part);
                    }
                    assertEquals(expected, split.finishSplit(copy),
                            "round " + round + ", n " + n + ", k " + k + ", parts " + parts + ", token " + token);
                }
            }
        }
    }

    /** A constraint that allows a fixed set of tokens and counts how it was asked. */
    private static final class SetConstraint implements TokenConstraint {
        final java.util.BitSet allowed;
        final int end;
        int asked;
        int restricted;
        final java.util.List<Integer> accepted = new java.util.ArrayList<>();

        SetConstraint(java.util.BitSet allowed, int end) {
            this.allowed = allowed;
            this.end = end;
        }

        @Override
        public boolean allows(int token) {
            asked++;
            return allowed.get(token);
        }

        @Override
        public int restrict(float[] logits) {
            restricted++;
            int left = 0;
            for (int i = 0; i < logits.length; i++) {
                if (!allowed.get(i)) {
                    logits[i] = Float.NEGATIVE_INFINITY;
                } else if (logits[i] != Float.NEGATIVE_INFINITY) {
                    left++;
                }
            }
            return left;
        }

        @Override
        public void accept(int token) {
            assertTrue(allowed.get(token), "accepted a token the constraint does not allow: " + token);
            accepted.add(token);
        }

        @Override
        public int endToken() {
            return end;
        }

        @Override
        public void close() {}
    }

    @Test
    void aConstraintIsAskedAboutTheDrawAndRestrictsTheRowOnlyWhenItRejectsIt() {
        float[] l = randomLogits(5000, 12);
        int best = argmax(l);
        java.util.BitSet all = new java.util.BitSet();
        all.set(0, l.length);
        SetConstraint yes = new SetConstraint(all, 0);
        TokenSampler greedy = new TokenSampler(SamplingParams.greedyDefaults(), l.length, NONE, NONE).constrainedBy(yes);
        assertEquals(best, greedy.sample(l.clone()));
        assertEquals(0, yes.restricted, "an allowed draw needs no restriction");
        assertEquals(java.util.List.of(best), yes.accepted);

        java.util.BitSet some = new java.util.BitSet();
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < 50; i++) {
            some.set(r.nextInt(l.length));
        }
        some.clear(best);
        SetConstraint few = new SetConstraint(some, 0);
        int expected = -1;
        for (int i = some.nextSetBit(0); i >= 0; i = some.nextSetBit(i + 1)) {
            expected = expected < 0 || l[i] > l[expected] ? i : expected;
        }
        TokenSampler g2 = new TokenSampler(SamplingParams.greedyDefaults(), l.length, NONE, NONE).constrainedBy(few);
        assertEquals(expected, g2.sample(l.clone()), "the best allowed token, as if restricted first");
        assertEquals(1, few.restricted);

        // drawn: every token comes from the allowed set, and each is accepted once
        TokenSampler drawn = new TokenSampler(params(1.0f, 40, 0.95f, 0f, 9), l.length, NONE, NONE)
                .constrainedBy(few);
        for (int i = 0; i < 50; i++) {
            assertTrue(some.get(drawn.sample(l.clone())));
        }
        assertEquals(51, few.accepted.size());
    }

    /** A row whose allowed logits are all NaN ends the generation rather than feed the constraint a token it rejects. */
    @Test
    void aRowOfNansUnderAConstraintEndsWithTheEndToken() {
        float[] l = new float[1000];
        java.util.Arrays.fill(l, Float.NaN);
        java.util.BitSet some = new java.util.BitSet();
        some.set(10, 20);
        for (SamplingParams sp : new SamplingParams[] {SamplingParams.greedyDefaults(), params(0.8f, 40, 0.9f, 0f, 1)}) {
            SetConstraint c = new SetConstraint(some, 2);
            TokenSampler s = new TokenSampler(sp, l.length, NONE, NONE).constrainedBy(c);
            assertEquals(2, s.sample(l.clone()));
            assertEquals(java.util.List.of(), c.accepted);
        }
    }

    @Test
    void whenTheConstraintAllowsNothingTheSamplerEndsWithItsEndToken() {
        float[] l = randomLogits(1000, 13);
        SetConstraint none = new SetConstraint(new java.util.BitSet(), 2);
        TokenSampler s = new TokenSampler(params(0.8f, 40, 0.9f, 0f, 1), l.length, NONE, NONE).constrainedBy(none);
        assertEquals(2, s.sample(l.clone()));
        assertEquals(java.util.List.of(), none.accepted, "the end token is not fed to the constraint");
    }

    @Test
    void topKOfOneIsGreedyWhateverTheTemperature() {
        float[] l = randomLogits(128_256, 3);
        TokenSampler s = new TokenSampler(params(1.5f, 1, 1f, 0f, -1), l.length, NONE, NONE);
        for (int i = 0; i < 10; i++) {
            assertEquals(argmax(l), s.sample(l.clone()));
        }
    }

    @Test
    void onlyTheTopKCanBeDrawn() {
        float[] l = randomLogits(5000, 4);
        float[] sorted = l.clone();
        java.util.Arrays.sort(sorted);
        float kth = sorted[sorted.length - 5];
        TokenSampler s = new TokenSampler(params(2f, 5, 1f, 0f, 11), l.length, NONE, NONE);
        for (int i = 0; i < 500; i++) {
            int t = s.sample(l.clone());
            assertTrue(l[t] >= kth, "token " + t + " is outside the top 5");
        }
    }

    @Test
    void drawsInProportionToTheSoftmax() {
        // three tokens with probabilities 0.5, 0.3, 0.2 at temperature 1; no cut
        float[] l = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.2)};
        TokenSampler s = new TokenSampler(params(1f, 0, 1f, 0f, 42), 3, NONE, NONE);
        int[] counts = new int[3];
        int n = 20_000;
        for (int i = 0; i < n; i++) {
            counts[s.sample(l.clone())]++;
        }
        assertEquals(0.5, counts[0] / (double) n, 0.02);
        assertEquals(0.3, counts[1] / (double) n, 0.02);
        assertEquals(0.2, counts[2] / (double) n, 0.02);
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        // 0.5 + 0.3 = 0.8 >= 0.75: the 0.2 token is cut
        float[] l = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.2)};
        TokenSampler s = new TokenSampler(params(1f, 0, 0.75f, 0f, 5), 3, NONE, NONE);
        for (int i = 0; i < 2000; i++) {
            assertNotEquals(2, s.sample(l.clone()));
        }
    }

    @Test
    void minPCutsTokensFarBelowTheBest() {
        // 0.2 < 0.5 * 0.5: cut; 0.3 >= 0.25: kept
        float[] l = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.2)};
        TokenSampler s = new TokenSampler(params(1f, 0, 1f, 0.5f, 5), 3, NONE, NONE);
        boolean sawSecond = false;
        for (int i = 0; i < 2000; i++) {
            int t = s.sample(l.clone());
            assertNotEquals(2, t);
            sawSecond |= t == 1;
        }
        assertTrue(sawSecond);
    }

    @Test
    void bannedTokensAreNeverChosen() {
        float[] l = randomLogits(1000, 6);
        int best = argmax(l);
        TokenSampler greedy = new TokenSampler(SamplingParams.greedyDefaults(), l.length, new int[] {best}, NONE);
        assertNotEquals(best, greedy.sample(l.clone()));
        TokenSampler sampled = new TokenSampler(params(0.8f, 40, 0.9f, 0f, 3), l.length, new int[] {best}, NONE);
        for (int i = 0; i < 500; i++) {
            assertNotEquals(best, sampled.sample(l.clone()));
        }
    }

    @Test
    void theSameSeedReplaysTheSameDraws() {
        float[] l = randomLogits(32_000, 8);
        TokenSampler a = new TokenSampler(params(0.8f, 40, 0.9f, 0.05f, 1234), l.length, NONE, NONE);
        TokenSampler b = new TokenSampler(params(0.8f, 40, 0.9f, 0.05f, 1234), l.length, NONE, NONE);
        for (int i = 0; i < 50; i++) {
            assertEquals(a.sample(l.clone()), b.sample(l.clone()));
        }
    }

    @Test
    void theRepeatPenaltyLowersTokensSeenRecently() {
        // token 0 leads narrowly; once it is in the window, a penalty of 2 halves its logit and token 1 wins
        float[] l = {4f, 3.5f, 1f};
        SamplingParams p = new SamplingParams(0f, 40, 1f, 0f, 1f, -1, 2f, 64, 0f, 0f);
        TokenSampler s = new TokenSampler(p, 3, NONE, new int[] {0});
        assertEquals(1, s.sample(l.clone()));
        // presence and frequency penalties subtract
        SamplingParams q = new SamplingParams(0f, 40, 1f, 0f, 1f, -1, 1f, 64, 1f, 0.5f);
        TokenSampler t = new TokenSampler(q, 3, NONE, new int[] {0});
        assertEquals(1, t.sample(l.clone()));
        // outside the window it no longer counts
        SamplingParams w = new SamplingParams(0f, 40, 1f, 0f, 1f, -1, 2f, 1, 0f, 0f);
        TokenSampler u = new TokenSampler(w, 3, NONE, new int[] {0, 2});
        assertEquals(0, u.sample(l.clone()));
    }

    /** repeat_last_n -1 penalizes every token of the context, however long (not just the last 4096). */
    @Test
    void aRepeatWindowOfMinusOneCoversTheWholeContext() {
        float[] l = randomLogits(1000, 30);
        int best = argmax(l);
        int[] history = new int[10_000];
        java.util.Arrays.fill(history, 1);
        history[0] = best; // seen once, 10,000 tokens ago
        SamplingParams whole = new SamplingParams(0f, 40, 1f, 0f, 1f, 1, 1000f, -1, 0f, 0f);
        SamplingParams last64 = new SamplingParams(0f, 40, 1f, 0f, 1f, 1, 1000f, 64, 0f, 0f);
        assertNotEquals(best, new TokenSampler(whole, l.length, NONE, history).sample(l.clone()));
        assertEquals(best, new TokenSampler(last64, l.length, NONE, history).sample(l.clone()));
        TokenSampler growing = new TokenSampler(whole, l.length, NONE, new int[] {best});
        for (int i = 0; i < 5000; i++) {
            growing.accept(1);
        }
        assertNotEquals(best, growing.sample(l.clone()), "still penalized after the window grew");
    }

    @Test
    void typicalSamplingKeepsTheTokensNearestTheEntropy() {
        // p = 0.4, 0.3, 0.3: entropy 1.09 nats; surprises 0.92, 1.20, 1.20, so the two 0.3 tokens are the
        // typical ones and, adding up to 0.6 > 0.5, they are all that is kept: the likeliest token is dropped
        float[] l = {(float) Math.log(0.4), (float) Math.log(0.3), (float) Math.log(0.3)};
        SamplingParams p = new SamplingParams(1f, 0, 1f, 0f, 0.5f, 3, 1f, 64, 0f, 0f);
        TokenSampler s = new TokenSampler(p, l.length, NONE, NONE);
        for (int i = 0; i < 500; i++) {
            assertNotEquals(0, s.sample(l.clone()));
        }
    }

    @Test
    void samplersRunInParallelWithoutSharingState() {
        float[] l = randomLogits(128_256, 9);
        int n = 64;
        TokenSampler[] parallel = new TokenSampler[n];
        TokenSampler[] serial = new TokenSampler[n];
        for (int i = 0; i < n; i++) {
            parallel[i] = new TokenSampler(params(0.8f, 40, 0.9f, 0f, i), l.length, NONE, NONE);
            serial[i] = new TokenSampler(params(0.8f, 40, 0.9f, 0f, i), l.length, NONE, NONE);
        }
        MemorySegment row = MemorySegment.ofArray(l);
        AtomicIntegerArray got = new AtomicIntegerArray(n);
        ParallelSampling.forEach(n, i -> got.set(i, parallel[i].sample(row)));
        for (int i = 0; i < n; i++) {
            assertEquals(serial[i].sample(l.clone()), got.get(i), "sequence " + i);
        }
    }
}
