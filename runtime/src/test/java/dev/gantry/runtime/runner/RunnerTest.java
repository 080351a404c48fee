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

/**
 * The continuous-batching runner over the {@link FakeEngine}, whose session checks every batch (contiguous positions,
 * KV cells, sequence ids, sampling) and records each decode step. Assertions are about steps and counters, never
 * about timing; waits are bounded only so that a bug fails instead of hanging.
 */
class RunnerTest extends RunnerTestBase {
    // ------------------------------------------------------------------ completion

    /** Steps slower than the ITL target make the runner take fewer prompt tokens, then fewer sequences. */
    @Test
    void adaptiveBatchingBacksOffWhenStepsExceedTheItlTarget() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        engine.decodeDelay(java.time.Duration.ofMillis(30));
        Runner runner = start(engine, new RunnerConfig(256, 16 * 256, 16, 64, 64, 1, false, false,
                java.time.Duration.ofMillis(10).toNanos()));
        List<RecordingObserver> all = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            all.add(submit(runner, FakeEngine.prompt("story " + i), 40)); // past the controller's warm-up
        }
        for (RecordingObserver o : all) {
            assertEquals(FinishReason.LENGTH, o.awaitFinish(WAIT).reason());
        }
        RunnerStats s = runner.stats();
        assertTrue(s.promptBudget() < 64 || s.maxActive() < 16, "budget " + s.promptBudget() + ", sequences "
                + s.maxActive());
        // a fixed runner keeps both at their maxima
        Runner fixed = start(engine(FakeEngine.builder().neverEnds()), config(256, 16 * 256, 16, 64, 64));
        assertEquals(64, fixed.stats().promptBudget());
        assertEquals(16, fixed.stats().maxActive());
    }

    /**
     * With one KV stream per sequence llama.cpp builds a micro-batch only from consecutive, increasing sequence ids:
     * the generating tokens of each step must come in id order, and ids must stay compact as requests come and go.
     */
    @Test
    void generatingTokensGoInIncreasingCompactIdOrderAsRequestsComeAndGo() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, new RunnerConfig(256, 8 * 256, 8, 64, 64, 1, false, false));
        List<RecordingObserver> all = new ArrayList<>();
        engine.pause(); // all are queued before the first step: the fake's steps take microseconds, and a test
        // thread descheduled between submissions let every sequence finish before eight ran at once (seen in CI)
        for (int i = 0; i < 24; i++) {
            // different lengths, so sequences finish at different steps and new ones take the freed ids
            all.add(submit(runner, FakeEngine.prompt("story " + i), 5 + (i * 7) % 23));
        }
        engine.resume();
        for (RecordingObserver o : all) {
            assertEquals(FinishReason.LENGTH, o.awaitFinish(WAIT).reason());
        }
        int checked = 0;
        for (FakeSession.Step step : engine.session().steps()) {
            List<Integer> order = step.order();
            // the generating part: the front of the batch, one token per sequence
            int k = 0;
            while (k < order.size() && step.tokensBySequence().get(order.get(k)) == 1) {
                k++;
            }
            List<Integer> generating = order.subList(0, k);
            for (int i = 1; i < generating.size(); i++) {
                assertTrue(generating.get(i) > generating.get(i - 1), "step " + step.number() + ": " + order);
            }
            // ids in use are the lowest ones: never an id above the number of sequences in the step
            assertTrue(step.tokensBySequence().lastKey() < 8, "step " + step.number() + ": " + order);
            checked++;
        }
        assertTrue(checked > 20);
        assertTrue(runner.stats().maxSequencesInStep() == 8);
    }

    /**
     * A prompt that waits for budget still puts one token in each step: a sequence missing from a step would split
     * llama.cpp's micro-batch at its id. So while every slot is taken, every step holds ids 0..n-1, each first seen
     * in increasing order, however the prompts' chunks are spread.
     */
    @Test
    void everySequenceHasATokenInEveryStepSoTheStepIsOneRunOfIds() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        // a budget of 16 against prompts of 20 to 40 tokens: prompts take several steps while others generate
        Runner runner = start(engine, new RunnerConfig(256, 8 * 256, 8, 64, 16, 1, false, false));
        List<RecordingObserver> all = new ArrayList<>();
        engine.pause(); // all 24 queue before the runner gets past its first step: the slots then stay full
        for (int i = 0; i < 24; i++) {
            all.add(submit(runner, FakeEngine.prompt("a longer story, number " + i + " " + "x".repeat(i % 20)),
                    5 + (i * 7) % 23));
        }
        engine.resume();
        for (RecordingObserver o : all) {
            assertEquals(FinishReason.LENGTH, o.awaitFinish(WAIT).reason());
        }
        int full = 0;
        int mixed = 0;
        for (FakeSession.Step step : engine.session().steps()) {
            List<Integer> firstSeen = step.order().stream().distinct().toList();
            for (int i = 1; i < firstSeen.size(); i++) {
                assertTrue(firstSeen.get(i) > firstSeen.get(i - 1), "step " + step.number() + ": " + step.order());
            }
            if (firstSeen.size() == 8) {
                assertEquals(List.of(0, 1, 2, 3, 4, 5, 6, 7), firstSeen, "step " + step.number());
                full++;
                if (step.tokensBySequence().values().stream().anyMatch(n -> n > 1)
                        && step.tokensBySequence().values().stream().anyMatch(n -> n == 1)) {
                    mixed++;
                }
            }
        }
        assertTrue(full > 20, "steps with every slot taken: " + full);
        assertTrue(mixed > 5, "steps mixing prompt chunks with generated tokens: " + mixed);
    }

    @Test
    void aSingleGenerationStopsAtEndOfGenerationWithItsMetrics() {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(12));
        Runner runner = start(engine, config(64, 256, 4, 8, 32));
        int[] prompt = FakeEngine.prompt("Hello?");
        long before = System.nanoTime();
        RecordingObserver o = submit(runner, prompt, -1);
        Outcome out = o.awaitFinish(WAIT);
        long elapsed = System.nanoTime() - before;

        assertEquals(FinishReason.STOP, out.reason());
        assertEquals("Once upon a ", o.text());
        assertEquals(engine.expectedText(prompt), o.text());
        GenerationMetrics m = out.metrics();
        assertEquals(7, m.promptTokens());
        assertEquals(12, m.generatedTokens());
        assertEquals(0, m.preemptions());
        assertTrue(m.queueNanos() >= 0 && m.promptEvalNanos() >= 0 && m.evalNanos() >= 0, m.toString());
        assertEquals(m.totalNanos(), m.queueNanos() + m.promptEvalNanos() + m.evalNanos(), m.toString());
        assertTrue(m.totalNanos() <= elapsed, m + " longer than the " + elapsed + " ns the test waited");
        assertEquals(1, o.threads().size());
        assertTrue(o.threads().iterator().next().getName().startsWith("runner-"), o.threads().toString());

        RunnerStats s = runner.stats();
        FakeSession session = engine.session();
        assertEquals(1, s.completed());
        assertEquals(0, s.cancelled());
        assertEquals(12, s.generatedTokens());
        assertEquals(7, s.promptTokens());
        assertEquals(0, s.active());
        assertEquals(0, s.waiting());
        assertEquals(0, s.kvCellsUsed());
        assertEquals(256, s.kvCells());
        assertEquals(13, s.steps(), "one prompt step, then one step per generated token (the last samples EOS)");
        assertEquals(session.stepCount(), s.steps());
        assertEquals(runner.stats().kvCellsParked(), session.usedCells(), "only parked cells stay");
        assertEquals(0, session.openSamplers());
        assertEquals(7 + 12, session.peakUsedCells());
    }

    @Test
    void aOneTokenPromptIsDecodedAndContinued() {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(5));
        Runner runner = start(engine, config(64, 256, 4, 8, 32));
        RecordingObserver o = submit(runner, new int[] {FakeEngine.BOS}, -1);
        assertEquals(FinishReason.STOP, o.awaitFinish(WAIT).reason());
        assertEquals("Once ", o.text());
    }

    @Test
    void maxTokensEndsWithLength() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(64, 256, 4, 8, 32));
        int[] prompt = FakeEngine.prompt("Hello?");
        RecordingObserver o = submit(runner, prompt, 5);
        Outcome out = o.awaitFinish(WAIT);
        assertEquals(FinishReason.LENGTH, out.reason());
        assertEquals("Once ", o.text());
        assertEquals(5, out.metrics().generatedTokens());
        assertEquals(0, runner.stats().kvCellsUsed());
        assertEquals(runner.stats().kvCellsParked(), engine.session().usedCells(), "only parked cells stay");
    }

    @Test
    void theContextLimitEndsWithLength() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(16, 64, 2, 2, 32));
        int[] prompt = FakeEngine.prompt("Hello?"); // 7 tokens: 9 more fill the 16
        RecordingObserver o = submit(runner, prompt, -1);
        Outcome out = o.awaitFinish(WAIT);
        assertEquals(FinishReason.LENGTH, out.reason());
        assertEquals(9, out.metrics().generatedTokens());
        assertEquals(FakeEngine.decode(engine.expectedTokens(prompt, -1, 16)), o.text());
    }

    /**
     * Ollama's context shift: a generation that fills its context keeps its first tokens, drops half of the rest
     * from the cache and goes on, to its num_predict, with the text it would have made in a context without limit
     * (the fake model's state carries over the shift as a real model's cached keys and values do).
     */
    @Test
    void aFullContextShiftsWhenTheRequestAsksForIt() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(16, 64, 2, 2, 32));
        int[] prompt = FakeEngine.prompt("Hello?"); // 7 tokens in a context of 16
        RecordingObserver o = observer();
        runner.submit(new GenerationRequest(prompt, GREEDY, 40, 0).withShift(4), o);
        Outcome out = o.awaitFinish(WAIT);
        assertEquals(FinishReason.LENGTH, out.reason());
        assertEquals(40, out.metrics().generatedTokens());
        assertEquals(FakeEngine.decode(engine.expectedTokens(prompt, 40, 0)), o.text());
        // 16 cells, 4 kept: each shift drops 6, so from 16 the sequence goes back to 10, 40 + 7 tokens in all
        assertEquals(6, engine.session().shifts());
        assertEquals(0, runner.stats().kvCellsUsed());
        assertEquals(runner.stats().kvCellsParked(), engine.session().usedCells(), "only parked cells stay");
        assertTrue(engine.violations().isEmpty(), engine.violations().toString());
    }

    /**
     * A num_keep as long as the context (or longer) keeps all but the last cached token and drops one a shift, as
     * Ollama's runner does, rather than ending the generation.
     */
    @Test
    void aKeepThatFillsTheContextStillShiftsOneTokenAtATime() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(16, 64, 2, 2, 32));
        int[] prompt = FakeEngine.prompt("Hello?");
        for (int keep : new int[] {15, 16, 100}) {
            RecordingObserver o = observer();
            runner.submit(new GenerationRequest(prompt, GREEDY, 20, 0).withShift(keep), o);
            Outcome out = o.awaitFinish(WAIT);
            assertEquals(FinishReason.LENGTH, out.reason());
            assertEquals(20, out.metrics().generatedTokens(), "keep " + keep);
            // the text diverges from the unlimited one at the first shift: it drops the newest cached token
            String unlimited = FakeEngine.decode(engine.expectedTokens(prompt, 20, 0));
            String upToTheContext = FakeEngine.decode(engine.expectedTokens(prompt, -1, 16));
            assertTrue(o.text().startsWith(upToTheContext), o.text());
            assertEquals(unlimited.length(), o.text().length(), "one character a token in the fake's script");
        }
        assertTrue(engine.violations().isEmpty(), engine.violations().toString());
    }

    /** A model whose memory cannot shift ends a full context at its length, shift asked for or not. */
    @Test
    void aContextThatCannotShiftEndsWithLength() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds().shifts(false));
        Runner runner = start(engine, config(16, 64, 2, 2, 32));
        int[] prompt = FakeEngine.prompt("Hello?");
        RecordingObserver o = observer();
        runner.submit(new GenerationRequest(prompt, GREEDY, 40, 0).withShift(4), o);
        Outcome out = o.awaitFinish(WAIT);
        assertEquals(FinishReason.LENGTH, out.reason());
        assertEquals(9, out.metrics().generatedTokens());
        assertEquals(0, engine.session().shifts());
    }

    @Test
    void finishingThroughTheHandleEndsWithThatReason() throws Exception {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(256, 1024, 2, 2, 32));
        RecordingObserver o = observer();
        GenerationHandle[] handle = new GenerationHandle[1];
        o.onTokenCount(3, t -> handle[0].finish(FinishReason.STOP)); // as a stop string does, from the runner thread
        engine.pause(); // until the handle is stored for the hook
        handle[0] = runner.submit(new GenerationRequest(FakeEngine.prompt("Hi?"), GREEDY, -1), o);
        engine.resume();
        Outcome out = o.awaitFinish(WAIT);
        assertEquals(FinishReason.STOP, out.reason());
        assertTrue(o.tokenCount() >= 3 && o.tokenCount() <= 4, "stopped at the next step: " + o.tokenCount());
        handle[0].finish(FinishReason.CANCELLED); // later calls do nothing
        assertEquals(1, runner.stats().completed());
        assertEquals(0, runner.stats().cancelled());
    }

    // ------------------------------------------------------------------ batching

    @Test
    void thirtyTwoConcurrentGenerationsShareDecodeSteps() throws Exception {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(40));
        Runner runner = start(engine, config(64, 32 * 64, 32, 0, 512));
        engine.pause(); // line everyone up behind the first decode
        List<int[]> prompts = new ArrayList<>();
        List<RecordingObserver> obs = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            int[] p = FakeEngine.prompt("Request number " + i + "?");
            prompts.add(p);
            obs.add(submit(runner, p, -1));
        }
        engine.resume();
        long generated = 0;
        for (int i = 0; i < 32; i++) {
            Outcome out = obs.get(i).awaitFinish(WAIT);
            assertEquals(FinishReason.STOP, out.reason());
            assertEquals(engine.expectedText(prompts.get(i)), obs.get(i).text(), "generation " + i);
            generated += out.metrics().generatedTokens();
        }
        assertEquals(32 * 40, generated);
        RunnerStats s = runner.stats();
        assertEquals(32, s.completed());
        assertEquals(generated, s.generatedTokens());
        assertTrue(s.maxSequencesInStep() >= 16, s.toString());
        assertTrue(s.batchedSteps() > 0, s.toString());
        assertTrue(s.steps() * 8 < generated, "steps should be shared: " + s);
        assertTrue(s.sequenceSteps() >= generated, s.toString());
        FakeSession session = engine.session();
        assertEquals(s.maxSequencesInStep(), session.maxSequencesInStep());
        assertEquals(s.steps(), session.stepCount());
        assertEquals(runner.stats().kvCellsParked(), session.usedCells(), "only parked cells stay");
        assertEquals(0, session.openSamplers());
        assertEquals(0, s.kvCellsUsed());
    }

    @Test
    void aSplitCacheServesEverySequenceInItsOwnStream() {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(40));
        Runner runner = start(engine, new RunnerConfig(64, 8 * 64, 8, 8, 64, 1, false, false));
        engine.pause();
        List<int[]> prompts = new ArrayList<>();
        List<RecordingObserver> obs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            int[] p = FakeEngine.prompt("split stream " + i + "?");
            prompts.add(p);
            obs.add(submit(runner, p, -1));
        }
        engine.resume();
        for (int i = 0; i < 8; i++) {
            assertEquals(FinishReason.STOP, obs.get(i).awaitFinish(WAIT).reason());
            assertEquals(engine.expectedText(prompts.get(i)), obs.get(i).text());
        }
        FakeSession session = engine.session();
        assertFalse(session.params().kvUnified(), "the runner asks for a split cache");
        assertEquals(64, session.streamCells());
        assertEquals(0, session.noKvSlotCount());
        assertEquals(0, runner.stats().preemptions());
        assertTrue(runner.stats().maxSequencesInStep() >= 4, runner.stats().toString());
    }

    @Test
    void ignoreEosGeneratesPastTheEndOfGeneration() {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(5));
        Runner runner = start(engine, config(64, 256, 2, 2, 32));
        int[] prompt = FakeEngine.prompt("go on?");
        RecordingObserver o = observer();
        runner.submit(new GenerationRequest(prompt, GREEDY.withIgnoreEos(true), 12), o);
        assertEquals(FinishReason.LENGTH, o.awaitFinish(WAIT).reason());
        assertEquals(FakeEngine.decode(engine.expectedTokens(prompt, 12, 0, true)), o.text());
        assertEquals(12, o.tokenCount());
    }

    @Test
    void admissionIsLimitedBySequenceSlots() {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(8));
        Runner runner = start(engine, config(64, 1024, 2, 8, 64));
        engine.pause();
        List<RecordingObserver> obs = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            obs.add(submit(runner, FakeEngine.prompt("slot " + i + "?"), -1));
        }
        engine.resume();
        for (RecordingObserver o : obs) {
            assertEquals(FinishReason.STOP, o.awaitFinish(WAIT).reason());
            assertEquals("Once upo", o.text());
        }
        assertEquals(2, engine.session().maxSequencesInStep());
        assertEquals(2, runner.stats().maxSequencesInStep());
    }

    @Test
    void aLongPromptIsPrefilledInChunksWhileAnotherSequenceKeepsGenerating() throws Exception {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(256, 1024, 4, 4, 8));
        RecordingObserver a = observer();
        CompletableFuture<Void> aGenerating = a.onTokenCount(3, t -> engine.pause());
        GenerationHandle aHandle = runner.submit(new GenerationRequest(FakeEngine.prompt("A?"), GREEDY, -1), a);
        aGenerating.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        engine.awaitDecodeAtGate(WAIT);
        FakeSession session = engine.session();
        long stepsBefore = session.stepCount();
        int[] longPrompt = promptOfLength(40); // five chunks of the budget of 8
        RecordingObserver b = submit(runner, longPrompt, 5);
        b.outcome().thenRun(engine::pause); // hold A when B ends, so that A is still generating when cancelled
        engine.resume();
        Outcome bOut = b.awaitFinish(WAIT);
        assertEquals(FinishReason.LENGTH, bOut.reason());
        assertEquals(engine.expectedText(longPrompt, 5), b.text());
        aHandle.cancel();
        engine.resume();
        assertEquals(FinishReason.CANCELLED, a.awaitFinish(WAIT).reason());

        List<FakeSession.Step> after = session.steps().subList((int) stepsBefore, session.steps().size());
        List<FakeSession.Step> prefill = after.stream()
                .filter(st -> st.tokensBySequence().values().stream().anyMatch(n -> n > 1)).toList();
        assertEquals(5, prefill.size(), "the 40-token prompt takes five steps of 8: " + after);
        for (FakeSession.Step st : prefill) {
            assertEquals(2, st.sequences(), "the generating sequence rides along in every prefill step: " + st);
            assertEquals(List.of(1, 8), st.tokensBySequence().values().stream().sorted().toList(), st.toString());
        }
        // the prefill steps are consecutive: the generating sequence never waited for the prompt
        long first = prefill.getFirst().number();
        for (int i = 0; i < prefill.size(); i++) {
            assertEquals(first + i, prefill.get(i).number());
        }
        for (FakeSession.Step st : session.steps()) {
            int promptTokens = st.tokensBySequence().values().stream().filter(n -> n > 1).mapToInt(n -> n).sum();
            assertTrue(promptTokens <= 8, "prompt tokens over the budget in " + st);
        }
    }

    // ------------------------------------------------------------------ cancellation and backpressure

    @Test
    void cancellingMidGenerationFreesTheCellsAtTheNextStep() throws Exception {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(256, 1024, 4, 4, 64));
        RecordingObserver a = observer();
        RecordingObserver b = observer();
        CompletableFuture<Void> aAt5 = a.onTokenCount(5, t -> engine.pause());
        engine.pause(); // so that B joins A within a step, long before A's fifth token
        GenerationHandle aHandle = runner.submit(new GenerationRequest(FakeEngine.prompt("A?"), GREEDY, -1), a);
        GenerationHandle bHandle = runner.submit(new GenerationRequest(FakeEngine.prompt("B?"), GREEDY, -1), b);
        engine.resume();
        aAt5.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        engine.awaitDecodeAtGate(WAIT);
        FakeSession session = engine.session();
        assertEquals(2, session.sequencesInCache());

        AtomicLong stepsAtFinish = new AtomicLong(-1);
        AtomicInteger cellsAtFinish = new AtomicInteger(-1);
        AtomicInteger statsCellsAtFinish = new AtomicInteger(-1);
        AtomicInteger sequencesAtFinish = new AtomicInteger(-1);
        // runs on the runner thread inside onFinish
        CompletableFuture<Void> looked = a.outcome().thenRun(() -> {
            engine.pause(); // hold B, so that it is still generating when the test looks
            stepsAtFinish.set(session.stepCount());
            cellsAtFinish.set(session.usedCells());
            statsCellsAtFinish.set(runner.stats().kvCellsUsed());
            sequencesAtFinish.set(session.sequencesInCache());
        });
        long stepsAtCancel = session.stepCount();
        aHandle.cancel();
        engine.resume();
        Outcome aOut = a.awaitFinish(WAIT);
        looked.get(WAIT.toSeconds(), TimeUnit.SECONDS); // the look runs after the outcome is set, maybe later
        assertEquals(FinishReason.CANCELLED, aOut.reason());
        assertTrue(stepsAtFinish.get() - stepsAtCancel <= 1,
                "cancelled within a step: " + stepsAtCancel + " -> " + stepsAtFinish.get());
        assertEquals(1, sequencesAtFinish.get(), "only the other sequence keeps cells");
        assertEquals(cellsAtFinish.get(), statsCellsAtFinish.get());
        assertTrue(a.tokenCount() <= 6, "at most the step in flight adds a token: " + a.tokenCount());
        assertEquals(a.tokenCount(), aOut.metrics().generatedTokens());
        assertFalse(b.isDone());

        bHandle.cancel();
        engine.resume();
        assertEquals(FinishReason.CANCELLED, b.awaitFinish(WAIT).reason());
        assertEquals(0, runner.stats().kvCellsUsed());
        assertEquals(runner.stats().kvCellsParked(), session.usedCells(), "only parked cells stay");
        assertEquals(0, session.openSamplers());
        assertEquals(2, runner.stats().cancelled());
        assertEquals(0, runner.stats().completed());
    }

    @Test
    void cancellingAQueuedGenerationNeverAdmitsIt() throws Exception {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(256, 1024, 1, 4, 64));
        engine.pause();
        RecordingObserver a = observer();
        a.onTokenCount(1, t -> engine.pause()); // hold A again once B has been dealt with
        GenerationHandle aHandle = runner.submit(new GenerationRequest(FakeEngine.prompt("A?"), GREEDY, -1), a);
        engine.awaitDecodeAtGate(WAIT);
        RecordingObserver b = observer();
        GenerationHandle bHandle = runner.submit(new GenerationRequest(FakeEngine.prompt("B?"), GREEDY, -1), b);
        assertEquals(1, runner.stats().waiting());
        bHandle.cancel();
        engine.resume();
        Outcome bOut = b.awaitFinish(WAIT);
        assertEquals(FinishReason.CANCELLED, bOut.reason());
        assertEquals(0, b.tokenCount());
        assertEquals(0, bOut.metrics().generatedTokens());
        assertEquals(1, engine.session().samplersCreated(), "B never got a sequence");
        assertEquals(1, runner.stats().cancelled());
        aHandle.cancel();
        engine.resume();
        assertEquals(FinishReason.CANCELLED, a.awaitFinish(WAIT).reason());
    }

    @Test
    void aSlowObserverDoesNotStallTheOthers() {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(30));
        Runner runner = start(engine, config(64, 512, 4, 4, 64));
        int[] slowPrompt = FakeEngine.prompt("slow?");
        int[] fastPrompt = FakeEngine.prompt("fast?");
        RecordingObserver slow = observer().ready(false);
        runner.submit(new GenerationRequest(slowPrompt, GREEDY, -1), slow);
        RecordingObserver fast = submit(runner, fastPrompt, -1);
        assertEquals(FinishReason.STOP, fast.awaitFinish(WAIT).reason());
        assertEquals(engine.expectedText(fastPrompt), fast.text());
        assertFalse(slow.isDone());
        assertTrue(slow.tokenCount() <= 1, "a consumer that is not ready gets no more tokens: " + slow.tokenCount());
        assertEquals(1, runner.stats().active());
        slow.ready(true);
        assertEquals(FinishReason.STOP, slow.awaitFinish(WAIT).reason());
        assertEquals(engine.expectedText(slowPrompt), slow.text());
    }

    @Test
    void anObserverThatThrowsIsCancelledAndTheOthersContinue() {
        FakeEngine engine = engine(FakeEngine.builder().eosAfter(20));
        Runner runner = start(engine, config(64, 512, 4, 4, 64));
        RecordingObserver bad = observer().throwOnToken(new IllegalStateException("client bug"));
        runner.submit(new GenerationRequest(FakeEngine.prompt("bad?"), GREEDY, -1), bad);
        RecordingObserver good = submit(runner, FakeEngine.prompt("good?"), -1);
        assertEquals(FinishReason.CANCELLED, bad.awaitFinish(WAIT).reason());
        assertEquals(1, bad.tokenCount());
        assertEquals(FinishReason.STOP, good.awaitFinish(WAIT).reason());
        assertEquals(20, good.tokenCount());
        assertEquals(runner.stats().kvCellsParked(), engine.session().usedCells(), "only parked cells stay");
    }
}
