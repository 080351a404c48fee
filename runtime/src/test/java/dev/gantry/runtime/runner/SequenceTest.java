package dev.gantry.runtime.runner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.gantry.runtime.engine.SamplingParams;
import org.junit.jupiter.api.Test;

/** What a sampler rebuilt after preemption is given: the generated tokens its grammar must replay. */
class SequenceTest {
    private static final int[] PROMPT = {1, 2, 3, 4, 5};

    private static Sequence generating(SamplingParams p, int n) {
        Sequence s = new Sequence(new GenerationRequest(PROMPT, p, 100), null, 0);
        for (int t = 0; t < n; t++) {
            s.append(100 + t);
        }
        return s;
    }

    @Test
    void aShiftedSequenceWithAGrammarReplaysEveryGeneratedToken() {
        Sequence s = generating(SamplingParams.DEFAULTS.withGrammar("root ::= \"a\""), 40);
        s.cached = s.length;
        s.shift(2, 20);
        assertArrayEquals(new int[] {1, 2, 100 + 17}, java.util.Arrays.copyOf(s.history(), 3), "the cut history");
        int[] expected = new int[PROMPT.length + 40];
        System.arraycopy(PROMPT, 0, expected, 0, PROMPT.length);
        for (int t = 0; t < 40; t++) {
            expected[PROMPT.length + t] = 100 + t;
        }
        assertArrayEquals(expected, s.samplerHistory(), "the prompt, then every generated token");
    }

    @Test
    void otherwiseTheSamplerGetsTheHistory() {
        Sequence unshifted = generating(SamplingParams.DEFAULTS.withGrammar("root ::= \"a\""), 8);
        assertArrayEquals(unshifted.history(), unshifted.samplerHistory());
        Sequence plain = generating(SamplingParams.DEFAULTS, 40);
        plain.cached = plain.length;
        plain.shift(2, 20);
        assertArrayEquals(plain.history(), plain.samplerHistory(), "no grammar: nothing kept beside the history");
    }
}
