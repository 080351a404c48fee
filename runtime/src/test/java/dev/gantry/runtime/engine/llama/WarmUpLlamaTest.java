package dev.gantry.runtime.engine.llama;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gantry.runtime.engine.EngineSession;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.engine.SequenceSampler;
import dev.gantry.runtime.engine.SessionParams;
import dev.gantry.runtime.runner.WarmUp;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The warm-up's passes through the real llama.cpp (a runner runs them on a GPU only; the calls are the same on the
 * CPU): every pass is accepted, and afterwards the session generates what a fresh one does.
 */
class WarmUpLlamaTest extends TinyEngineTestBase {
    private static final SamplingParams GREEDY = SamplingParams.greedyDefaults();

    @Test
    void theWarmUpPassesRunAndLeaveTheSessionAsFresh() {
        int[] prompt = engine.tokenize("Once upon a time", true, false);
        for (boolean unified : new boolean[] {false, true}) {
            int[] fresh;
            try (EngineSession session = engine.openSession(new SessionParams(8 * 512, 8, 8 + 512, 1, false, unified))) {
                fresh = greedy(session, prompt, 24);
            }
            try (EngineSession session = engine.openSession(new SessionParams(8 * 512, 8, 8 + 512, 1, false, unified))) {
                // 17 one-sequence passes (1 to 512 tokens), then 2, 4 and 8 sequences of one token
                assertEquals(20, WarmUp.run(session, 512), unified ? "unified cache" : "a stream a sequence");
                assertArrayEquals(fresh, greedy(session, prompt, 24), "after the warm-up");
            }
        }
    }

    /** Greedy tokens for sequence 0 of the session, from position 0. */
    private static int[] greedy(EngineSession session, int[] prompt, int n) {
        int[] out = new int[n];
        try (SequenceSampler sampler = session.newSampler(0, GREEDY, prompt)) {
            session.clearBatch();
            for (int i = 0; i < prompt.length; i++) {
                session.add(prompt[i], i, 0, i == prompt.length - 1);
            }
            int pos = prompt.length;
            for (int k = 0; k < n; k++) {
                assertEquals(EngineSession.DecodeStatus.OK, session.decode());
                out[k] = session.sample(sampler, session.batchSize() - 1);
                session.clearBatch();
                session.add(out[k], pos++, 0, true);
            }
        }
        session.freeSequence(0);
        return Arrays.copyOf(out, n);
    }
}
