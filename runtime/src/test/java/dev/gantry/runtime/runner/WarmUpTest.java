package dev.gantry.runtime.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.gantry.runtime.testing.FakeEngine;
import dev.gantry.runtime.testing.FakeSession;
import dev.gantry.runtime.testing.RecordingObserver;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A GPU runner's warm-up: the batch shapes of prompts and steps, run before the first request and then freed. */
class WarmUpTest extends RunnerTestBase {
    @Test
    void aGpuRunnerRunsPromptAndStepShapesBeforeItsFirstRequestAndFreesThem() {
        FakeEngine engine = engine(FakeEngine.builder().onGpu(true).eosAfter(6));
        // a split cache: 16 sequences of 128 cells; 16 + 112 tokens a step
        Runner runner = start(engine, new RunnerConfig(128, 16 * 128, 16, 4, 112, 1, false, false));
        FakeSession session = engine.session();
        List<Integer> oneSequence = new ArrayList<>();
        List<Integer> manySequences = new ArrayList<>();
        for (FakeSession.Step s : session.steps()) {
            if (s.sequences() == 1) {
                oneSequence.add(s.tokens());
            } else {
                assertEquals(s.sequences(), s.tokens(), "one token a sequence");
                assertEquals(s.sequences(), s.outputs());
                manySequences.add(s.sequences());
            }
        }
        // prompt chunks up to the smaller of the step's 128 tokens and a sequence's 128 cells
        assertEquals(List.of(1, 2, 3, 4, 5, 6, 7, 8, 16, 24, 32, 48, 64, 96, 128), oneSequence);
        assertEquals(List.of(2, 4, 8, 16), manySequences);
        assertEquals(0, session.usedCells(), "every warm-up cell is freed");
        assertEquals(0, runner.stats().steps(), "the counters do not see the warm-up");

        // requests then run as on a runner that did not warm up
        FakeEngine cold = engine(FakeEngine.builder().eosAfter(6));
        Runner coldRunner = start(cold, new RunnerConfig(128, 16 * 128, 16, 4, 112, 1, false, false));
        assertEquals(0, cold.session().steps().size(), "a CPU runner does not warm up");
        for (int i = 0; i < 3; i++) {
            int[] prompt = FakeEngine.prompt("warm " + i + "?");
            RecordingObserver warm = submit(runner, prompt, 20);
            RecordingObserver plain = submit(coldRunner, prompt, 20);
            assertEquals(FinishReason.STOP, warm.awaitFinish(WAIT).reason());
            assertEquals(plain.awaitFinish(WAIT).reason(), FinishReason.STOP);
            assertEquals(plain.text(), warm.text());
            assertEquals(engine.expectedText(prompt), warm.text());
        }
    }

    @Test
    void theWarmUpStopsAtWhatTheCacheAndTheBatchHold() {
        // one sequence of 20 cells, a batch of 1 + 9 tokens: chunks of 1 to 8 only, no many-sequence pass
        FakeEngine engine = engine(FakeEngine.builder().onGpu(true));
        start(engine, new RunnerConfig(20, 20, 1, 4, 9, 1, false, false));
        List<Integer> sizes = engine.session().steps().stream().map(FakeSession.Step::tokens).toList();
        assertEquals(List.of(1, 2, 3, 4, 5, 6, 7, 8), sizes);
        assertEquals(0, engine.session().usedCells());

        // a unified cache of 600 cells: every prompt chunk up to 512, then steps of 2, 4 and 8 sequences
        FakeEngine unified = engine(FakeEngine.builder().onGpu(true));
        Runner runner = start(unified, new RunnerConfig(600, 600, 8, 4, 600, 1, false, true));
        List<Integer> tokens = unified.session().steps().stream().map(FakeSession.Step::tokens).toList();
        assertEquals(List.of(1, 2, 3, 4, 5, 6, 7, 8, 16, 24, 32, 48, 64, 96, 128, 256, 512, 2, 4, 8), tokens);
        assertEquals(0, unified.session().usedCells());
        RecordingObserver after = submit(runner, FakeEngine.prompt("after?"), 5);
        assertEquals(FinishReason.LENGTH, after.awaitFinish(WAIT).reason());
    }

    @Test
    void stepPassesDoubleUpToTheMostSequences() {
        assertEquals(List.of(2, 4, 8, 16, 32, 64, 100), java.util.Arrays.stream(WarmUp.stepSizes(100)).boxed().toList());
        assertEquals(List.of(2, 4), java.util.Arrays.stream(WarmUp.stepSizes(4)).boxed().toList());
        assertEquals(List.of(2), java.util.Arrays.stream(WarmUp.stepSizes(2)).boxed().toList());
        assertEquals(List.of(), java.util.Arrays.stream(WarmUp.stepSizes(1)).boxed().toList());
    }

    @Test
    void aFailingWarmUpLeavesARunnerThatServes() {
        FakeEngine engine = engine(FakeEngine.builder().onGpu(true).eosAfter(4));
        engine.failDecodeAt(3); // the third warm-up pass throws
        Runner runner = start(engine, new RunnerConfig(64, 4 * 64, 4, 4, 60, 1, false, false));
        assertEquals(2, engine.session().steps().size());
        assertEquals(0, engine.session().usedCells(), "the passes before the failure are freed");
        int[] prompt = FakeEngine.prompt("still serving?");
        RecordingObserver o = submit(runner, prompt, 10);
        assertEquals(FinishReason.STOP, o.awaitFinish(WAIT).reason());
        assertEquals(engine.expectedText(prompt), o.text());
    }
}
