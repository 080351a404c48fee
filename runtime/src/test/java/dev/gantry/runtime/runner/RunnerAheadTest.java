package dev.gantry.runtime.runner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.testing.FakeEngine;
import dev.gantry.runtime.testing.FakeSession;
import dev.gantry.runtime.testing.RecordingObserver;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Prompt tokens decoded ahead: once a step's decode is done and before its outputs are sampled, the runner queues a
 * decode of the next step's prompt chunks (all of each prompt but its last token, within the prompt budget) without
 * outputs, and samples meanwhile; the fake session fails any decode with an output while a sampling is pending, and
 * checks every batch's positions against each sequence's cells.
 */
class RunnerAheadTest extends RunnerTestBase {
    private static final int BUDGET = 16;

    /** Generations running, prompts arriving: the prompts go ahead, and nobody's tokens change. */
    @Test
    void promptsArrivingDuringGenerationGoAheadAndChangeNothing() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds().fillsIdGaps(true).decodesAhead(true));
        RunnerConfig config = config(256, 8 * 256, 8, 64, BUDGET);
        Runner runner = start(engine, config);
        List<int[]> prompts = new ArrayList<>();
        List<Integer> lengths = new ArrayList<>();
        List<RecordingObserver> all = new ArrayList<>();
        engine.pause(); // the next prompts all arrive while the runner waits in the first decode
        for (int i = 0; i < 3; i++) {
            prompts.add(FakeEngine.prompt("story " + i));
            lengths.add(60);
            all.add(submit(runner, prompts.getLast(), 60));
        }
        awaitGate(engine);
        for (int n : new int[] {70, 41, 2, 100}) {
            prompts.add(promptOfLength(n));
            lengths.add(12);
            all.add(submit(runner, prompts.getLast(), 12));
        }
        engine.resume();
        for (RecordingObserver o : all) {
            assertEquals(FinishReason.LENGTH, o.awaitFinish(WAIT).reason());
        }
        FakeSession session = engine.session();
        assertTrue(session.aheadDecodes() > 0, "nothing was decoded ahead");
        RunnerStats s = runner.stats();
        assertTrue(s.aheadTokens() > 0, s.toString());
        int promptTokens = prompts.stream().mapToInt(p -> p.length).sum();
        assertEquals(promptTokens, s.promptTokens(), "every prompt token decoded once: " + s);
        // a decode ahead and the step after it share that step's budget: its prompt chunks (a sequence with more
        // than one token) and the tokens ahead together stay within it
        List<FakeSession.Step> steps = session.steps();
        for (int i = 0; i + 1 < steps.size(); i++) {
            FakeSession.Step step = steps.get(i);
            if (!step.ahead()) {
                continue;
            }
            assertEquals(0, step.outputs(), "an output ahead: " + step);
            int chunks = steps.get(i + 1).tokensBySequence().values().stream().filter(n -> n > 1)
                    .mapToInt(Integer::intValue).sum();
            assertTrue(step.tokens() + chunks <= BUDGET, "beyond the budget: " + step + " then " + steps.get(i + 1));
        }
        assertEquals(0, s.kvCellsUsed());
        assertEquals(s.kvCellsParked(), session.usedCells(), "cells besides the parked slots'");
        // each alone, on an engine that decodes nothing ahead
        Runner reference = start(engine(FakeEngine.builder().neverEnds()), config);
        for (int i = 0; i < prompts.size(); i++) {
            RecordingObserver o = submit(reference, prompts.get(i), lengths.get(i));
            o.awaitFinish(WAIT);
            assertArrayEquals(o.tokens(), all.get(i).tokens(), "request " + i);
        }
    }

    /**
     * A decode ahead that fails fails the sequences the runner holds (their state is unknown), as a step's decode
     * does; the runner goes on serving, and no cell stays taken.
     */
    @Test
    void aFailedDecodeAheadFailsTheActiveSequencesAndTheRunnerGoesOn() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds().fillsIdGaps(true).decodesAhead(true));
        Runner runner = start(engine, config(256, 8 * 256, 8, 64, BUDGET));
        engine.pause();
        RecordingObserver generating = submit(runner, FakeEngine.prompt("story"), 200);
        awaitGate(engine); // its prompt's decode, call k + 1, waits at the gate (a call is counted once past it)
        long k = engine.decodeCalls();
        RecordingObserver prompt = submit(runner, promptOfLength(60), 8);
        // k + 2: the prompt, come in during k + 1, admitted and decoded ahead while k + 1's output is sampled
        engine.failDecodeAt(k + 2);
        engine.resume();
        Throwable e1 = generating.awaitError(WAIT);
        Throwable e2 = prompt.awaitError(WAIT);
        assertTrue(e1 instanceof FakeEngine.InjectedFailure, String.valueOf(e1));
        assertTrue(e2 instanceof FakeEngine.InjectedFailure, String.valueOf(e2));
        assertEquals(1, engine.session().aheadDecodes(), "the failing decode ran ahead");
        assertEquals(0, generating.tokenCount(), "the token sampled beside the failed decode is not delivered");
        RecordingObserver after = submit(runner, FakeEngine.prompt("after"), 10);
        assertEquals(FinishReason.LENGTH, after.awaitFinish(WAIT).reason());
        assertEquals(0, runner.stats().kvCellsUsed());
    }

    /** While an output's log probabilities are asked (its row is read after its sampling), nothing goes ahead. */
    @Test
    void nothingGoesAheadWhileAnOutputsLogprobsAreAsked() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds().fillsIdGaps(true).decodesAhead(true));
        Runner runner = start(engine, config(256, 8 * 256, 8, 64, BUDGET));
        RecordingObserver withLogprobs = observer();
        engine.pause();
        runner.submit(new GenerationRequest(FakeEngine.prompt("story"), SamplingParams.greedyDefaults(), 40)
                .withLogprobs(2), withLogprobs);
        awaitGate(engine);
        RecordingObserver prompt = submit(runner, promptOfLength(60), 8);
        engine.resume();
        assertEquals(FinishReason.LENGTH, prompt.awaitFinish(WAIT).reason());
        assertEquals(FinishReason.LENGTH, withLogprobs.awaitFinish(WAIT).reason());
        assertEquals(0, engine.session().aheadDecodes());
    }
}
