package dev.gantry.runtime.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.testing.FakeEngine;
import dev.gantry.runtime.testing.FakeSession;
import dev.gantry.runtime.testing.RecordingObserver;
import dev.gantry.runtime.testing.RecordingObserver.Outcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

/** The runner at its limits: queue and context limits, KV exhaustion, failures and shutdown. */
class RunnerLimitsTest extends RunnerTestBase {
    // ------------------------------------------------------------------ limits

    /**
     * An Error while a request is admitted (a sampler's allocation, say) stops the runner, as any Error does, but
     * fails that request too: it had left the queue and was not active yet, and once waited forever.
     */
    @Test
    void anErrorWhileAdmittingFailsThatRequestAndStopsTheRunner() {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(5));
        Runner runner = start(engine, config(64, 256, 2, 8, 64));
        RecordingObserver first = submit(runner, FakeEngine.prompt("fine?"), -1);
        assertEquals(FinishReason.STOP, first.awaitFinish(WAIT).reason());
        engine.failNextNewSampler(new OutOfMemoryError("injected"));
        RecordingObserver doomed = submit(runner, FakeEngine.prompt("doomed?"), -1);
        Throwable error = doomed.awaitError(WAIT);
        assertTrue(String.valueOf(error).contains("injected"), String.valueOf(error));
        RecordingObserver later = observer();
        try {
            runner.submit(new GenerationRequest(FakeEngine.prompt("later?"), GREEDY, -1), later);
            later.awaitError(WAIT); // a stopped runner fails what it is given, at once or from its queue
        } catch (RuntimeException refused) {
            observers.remove(later); // or refuses it outright
        }
    }

    @Test
    void aFullQueueRejectsAtOnceAndTheAcceptedOnesComplete() {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(10));
        Runner runner = start(engine, config(64, 256, 2, 3, 64));
        engine.pause(); // nothing can finish while we submit
        List<RecordingObserver> accepted = new ArrayList<>();
        List<int[]> prompts = new ArrayList<>();
        int rejected = 0;
        for (int i = 0; i < 10; i++) {
            RecordingObserver o = observer();
            int[] p = FakeEngine.prompt("queue " + i + "?");
            try {
                runner.submit(new GenerationRequest(p, GREEDY, -1), o);
                accepted.add(o);
                prompts.add(p);
            } catch (QueueFullException e) {
                rejected++;
                assertTrue(e.getMessage().contains("busy"), e.getMessage());
                observers.remove(o);
            }
        }
        assertEquals(5, rejected);
        assertEquals(5, accepted.size());
        assertEquals(5, runner.stats().rejected());
        engine.resume();
        for (int i = 0; i < accepted.size(); i++) {
            assertEquals(FinishReason.STOP, accepted.get(i).awaitFinish(WAIT).reason());
            assertEquals(engine.expectedText(prompts.get(i)), accepted.get(i).text());
        }
        // the slots are free again
        RecordingObserver later = submit(runner, FakeEngine.prompt("later?"), -1);
        assertEquals(FinishReason.STOP, later.awaitFinish(WAIT).reason());
        assertEquals(5, runner.stats().rejected());
        assertEquals(6, runner.stats().completed());
    }

    @Test
    void aRequestsOwnContextLimitEndsItsGenerationAndIsCappedAtTheRunners() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(32, 128, 2, 2, 32));
        // num_ctx 12 with a 5-token prompt: 7 tokens fill it, whatever num_predict says
        RecordingObserver small = observer();
        runner.submit(new GenerationRequest(promptOfLength(5), GREEDY, 100, 12), small);
        assertEquals(FinishReason.LENGTH, small.awaitFinish(WAIT).reason());
        assertEquals(7, small.tokenCount());
        // a limit above the runner's context is the runner's
        RecordingObserver large = observer();
        runner.submit(new GenerationRequest(promptOfLength(5), GREEDY, -1, 1000), large);
        assertEquals(FinishReason.LENGTH, large.awaitFinish(WAIT).reason());
        assertEquals(27, large.tokenCount());
        assertThrows(IllegalArgumentException.class,
                () -> runner.submit(new GenerationRequest(promptOfLength(12), GREEDY, -1, 12), observer()));
    }

    @Test
    void aPromptThatDoesNotFitTheContextIsRejected() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(16, 64, 2, 2, 32));
        assertThrows(IllegalArgumentException.class,
                () -> runner.submit(new GenerationRequest(promptOfLength(16), GREEDY, -1), observer()));
        assertThrows(IllegalArgumentException.class,
                () -> runner.submit(new GenerationRequest(promptOfLength(100), GREEDY, -1), observer()));
        assertEquals(0, runner.stats().rejected());
        // one token short of the context: one token can still be generated
        RecordingObserver o = submit(runner, promptOfLength(15), -1);
        Outcome out = o.awaitFinish(WAIT);
        assertEquals(FinishReason.LENGTH, out.reason());
        assertEquals(1, o.tokenCount());
        // rejections did not take queue places: four more are accepted (2 slots + 2 queued)
        engine.pause();
        List<RecordingObserver> four = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            four.add(submit(runner, FakeEngine.prompt(i + "?"), 2));
        }
        engine.resume();
        for (RecordingObserver ob : four) {
            assertEquals(FinishReason.LENGTH, ob.awaitFinish(WAIT).reason());
            assertEquals("On", ob.text());
        }
    }

    @Test
    void exhaustingTheKvCacheWithChunkedPromptsPreemptsAndRecomputesWithTheSameOutput() {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(40));
        // four sequences of up to 8 + 40 = 48 cells in 128 cells: they cannot all finish together
        Runner runner = start(engine, config(64, 128, 4, 8, 4));
        List<int[]> prompts = new ArrayList<>();
        List<RecordingObserver> obs = new ArrayList<>();
        engine.pause(); // all six arrive before the first step ends
        for (int i = 0; i < 6; i++) {
            int[] p = FakeEngine.prompt("seq " + i + "?");
            prompts.add(p);
            obs.add(submit(runner, p, -1));
        }
        engine.resume();
        int preempted = 0;
        for (int i = 0; i < obs.size(); i++) {
            Outcome out = obs.get(i).awaitFinish(WAIT);
            assertEquals(FinishReason.STOP, out.reason());
            assertEquals(engine.expectedText(prompts.get(i)), obs.get(i).text(), "generation " + i);
            assertEquals(40, out.metrics().generatedTokens());
            preempted += out.metrics().preemptions();
        }
        RunnerStats s = runner.stats();
        assertTrue(s.preemptions() > 0, s.toString());
        assertEquals(s.preemptions(), preempted);
        FakeSession session = engine.session();
        assertTrue(session.noKvSlotCount() > 0);
        assertTrue(session.peakUsedCells() <= 128);
        assertEquals(runner.stats().kvCellsParked(), session.usedCells(), "only parked cells stay");
        assertEquals(0, s.kvCellsUsed());
    }

    /*
     * BUG (runtime/src/main/java/dev/gantry/runtime/runner/Runner.java, admit(), the check
     * "usedCells + need > config.kvCells()"): admission counts only cells already decoded (usedCells), not the
     * tokens that admitted sequences have yet to decode (their pending prompt or the one pending generated token).
     * When a decode gets NO_KV_SLOT the newest sequence is preempted, and admit() lets it straight back in for the
     * next step, which carries the same tokens and fails the same way: the runner livelocks (preemptions climbs
     * forever, no generation progresses). It happens whenever a whole prompt fits the prompt budget (the default
     * budget is 512), e.g. two prompts that each fit the cache but not together, or a preempted sequence
     * re-admitted beside two or more generating ones. The two tests below assert the correct behaviour.
     */
    @Test
    void twoPromptsThatFitOnlyOneAtATimeBothComplete() {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(4));
        Runner runner = start(engine, config(40, 64, 2, 2, 512));
        int[] p1 = promptOfLength(35);
        int[] p2 = FakeEngine.prompt("other 012345678901234567890123456?");
        assertEquals(35, p2.length);
        // a one-token generation holds the runner while both prompts arrive, so that both are admitted together
        engine.pause();
        RecordingObserver first = submit(runner, FakeEngine.prompt("C?"), 1);
        awaitGate(engine);
        RecordingObserver a = submit(runner, p1, -1);
        RecordingObserver b = submit(runner, p2, -1);
        engine.resume();
        assertEquals(FinishReason.LENGTH, first.awaitFinish(WAIT).reason());
        assertEquals(FinishReason.STOP, a.awaitFinish(Duration.ofSeconds(5)).reason());
        assertEquals(FinishReason.STOP, b.awaitFinish(Duration.ofSeconds(5)).reason());
        assertEquals(engine.expectedText(p1), a.text());
        assertEquals(engine.expectedText(p2), b.text());
    }

    @Test
    void exhaustingTheKvCacheWithWholePromptsInOneStepStillCompletesEveryGeneration() {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(40));
        Runner runner = start(engine, config(64, 128, 4, 8, 512));
        List<int[]> prompts = new ArrayList<>();
        List<RecordingObserver> obs = new ArrayList<>();
        engine.pause(); // all six arrive before the first step ends
        for (int i = 0; i < 6; i++) {
            int[] p = FakeEngine.prompt("seq " + i + "?");
            prompts.add(p);
            obs.add(submit(runner, p, -1));
        }
        engine.resume();
        for (int i = 0; i < obs.size(); i++) {
            Outcome out = obs.get(i).awaitFinish(Duration.ofSeconds(5));
            assertEquals(FinishReason.STOP, out.reason());
            assertEquals(engine.expectedText(prompts.get(i)), obs.get(i).text(), "generation " + i);
        }
        assertTrue(runner.stats().preemptions() > 0, runner.stats().toString());
    }

    // ------------------------------------------------------------------ failures and shutdown

    /**
     * A sampler that throws (a grammar that cannot go on, a broken row) fails its own sequence only: the others in
     * the step keep their tokens and finish, and the runner keeps serving.
     */
    @Test
    void aSamplingFailureFailsOnlyItsSequence() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(256, 1024, 2, 4, 64));
        RecordingObserver a = observer();
        RecordingObserver b = observer();
        a.onTokenCount(3, t -> engine.failNextSampleOf(1)); // B, in slot 1, fails at the next step
        engine.pause(); // B joins A within a step
        runner.submit(new GenerationRequest(FakeEngine.prompt("A?"), GREEDY, 12), a);
        runner.submit(new GenerationRequest(FakeEngine.prompt("B?"), GREEDY, 12), b);
        engine.resume();
        Throwable error = b.awaitError(WAIT);
        assertTrue(error.getMessage().contains("injected sampling failure"), error.toString());
        assertEquals(FinishReason.LENGTH, a.awaitFinish(WAIT).reason());
        assertEquals(12, a.tokenCount());
        RecordingObserver c = submit(runner, FakeEngine.prompt("C?"), 4);
        assertEquals(FinishReason.LENGTH, c.awaitFinish(WAIT).reason());
        assertEquals(0, runner.stats().kvCellsUsed());
    }

    @Test
    void aDecodeFailureFailsTheSequencesInFlightAndTheRunnerKeepsServing() throws Exception {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(256, 1024, 2, 4, 64));
        RecordingObserver a = observer();
        RecordingObserver b = observer();
        CompletableFuture<Void> at3 = a.onTokenCount(3, t -> engine.failNextDecode());
        engine.pause(); // B joins A within a step
        runner.submit(new GenerationRequest(FakeEngine.prompt("A?"), GREEDY, -1), a);
        runner.submit(new GenerationRequest(FakeEngine.prompt("B?"), GREEDY, -1), b);
        engine.resume();
        assertInstanceOf(FakeEngine.InjectedFailure.class, a.awaitError(WAIT));
        assertInstanceOf(FakeEngine.InjectedFailure.class, b.awaitError(WAIT));
        assertTrue(at3.isDone());
        FakeSession session = engine.session();
        assertEquals(runner.stats().kvCellsParked(), session.usedCells(), "only parked cells stay");
        assertEquals(0, session.openSamplers());
        assertEquals(0, runner.stats().kvCellsUsed());
        assertEquals(0, runner.stats().active());
        assertTrue(runner.isRunning());

        int[] prompt = FakeEngine.prompt("C?");
        RecordingObserver c = submit(runner, prompt, 8);
        assertEquals(FinishReason.LENGTH, c.awaitFinish(WAIT).reason());
        assertEquals(engine.expectedText(prompt, 8), c.text());
    }

    @Test
    void aDecodeFailureSparesQueuedGenerations() throws Exception {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(6));
        Runner runner = start(engine, config(256, 1024, 1, 4, 64));
        engine.pause();
        RecordingObserver a = submit(runner, FakeEngine.prompt("A?"), -1);
        engine.awaitDecodeAtGate(WAIT);
        int[] bPrompt = FakeEngine.prompt("B?");
        RecordingObserver b = submit(runner, bPrompt, -1);
        engine.failNextDecode();
        engine.resume();
        assertInstanceOf(FakeEngine.InjectedFailure.class, a.awaitError(WAIT));
        assertEquals(FinishReason.STOP, b.awaitFinish(WAIT).reason());
        assertEquals(engine.expectedText(bPrompt), b.text());
    }

    @Test
    void closeFailsActiveAndQueuedGenerationsAndStopsTheThread() throws Exception {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(256, 1024, 2, 3, 64));
        engine.pause();
        List<RecordingObserver> obs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            obs.add(submit(runner, FakeEngine.prompt("close " + i + "?"), -1));
        }
        engine.awaitDecodeAtGate(WAIT);
        assertTrue(runnerThreadAlive(runner.name()));
        runner.close();
        for (RecordingObserver o : obs) {
            Throwable error = o.awaitError(WAIT);
            assertInstanceOf(IllegalStateException.class, error);
            assertTrue(error.getMessage().contains("unloaded"), error.getMessage());
        }
        assertFalse(runner.isRunning());
        assertFalse(runnerThreadAlive(runner.name()), "the runner thread is gone");
        FakeSession session = engine.session();
        assertTrue(session.isClosed());
        assertEquals(0, session.openSamplers());
        assertFalse(engine.isClosed(), "the engine belongs to the caller");
        assertThrows(IllegalStateException.class, () -> submit(runner, FakeEngine.prompt("late?"), -1));
        runner.close(); // twice is fine
    }

    @Test
    void closeOfAnIdleRunnerIsPrompt() {
        FakeEngine engine = engine(FakeEngine.builder());
        Runner runner = start(engine, config(64, 256, 2, 2, 32));
        assertTrue(runner.isRunning());
        runner.close();
        assertFalse(runner.isRunning());
        assertFalse(runnerThreadAlive(runner.name()));
        assertTrue(engine.session().isClosed());
    }

    @Test
    void aSessionThatCannotOpenFailsTheStart() {
        IllegalStateException cause = new IllegalStateException("not enough memory for the KV cache");
        FakeEngine engine = engine(FakeEngine.builder().failOpenSession(cause));
        String name = testName + "-" + NAMES.incrementAndGet();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> Runner.start(name, engine, config(64, 256, 2, 2, 32)));
        assertSame(cause, e);
        assertFalse(runnerThreadAlive(name));
    }
}
