package dev.gantry.runtime.runner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.testing.FakeEngine;
import dev.gantry.runtime.testing.FakeSession;
import dev.gantry.runtime.testing.RecordingObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;
import org.junit.jupiter.api.Test;

/**
 * Gaps between a step's sequence ids (a finished sequence's id not taken again yet, a client that cannot take a
 * token) get a placeholder token when the engine asks for them, so llama.cpp makes the step one forward pass; the
 * placeholders' cells are cut out again after each decode and never change what any sequence generates. The fake
 * session checks every batch's positions against each sequence's cells, so a placeholder at a wrong position, or
 * one left in the cache, fails the next decode.
 */
class RunnerGapFillTest extends RunnerTestBase {

    /** Sequences that end at different steps leave gaps; every step's ids still form one run. */
    @Test
    void finishedSequencesIdsAreFilledAndEveryStepIsOneRunOfIds() {
        int[] lengths = {30, 4, 30, 9, 30, 30};
        FakeEngine filling = engine(FakeEngine.builder().neverEnds().fillsIdGaps(true));
        List<int[]> filled = run(filling, lengths);
        FakeSession session = filling.session();
        for (FakeSession.Step step : session.steps()) {
            SortedMap<Integer, Integer> ids = step.tokensBySequence();
            assertEquals(ids.lastKey() - ids.firstKey() + 1, ids.size(),
                    "step " + step.number() + " has a gap: " + step.order());
        }
        assertTrue(session.truncations() > 0, "no placeholder was taken out");
        // the same generations without placeholders
        List<int[]> plain = run(engine(FakeEngine.builder().neverEnds()), lengths);
        for (int i = 0; i < lengths.length; i++) {
            assertArrayEquals(plain.get(i), filled.get(i), "request " + i);
        }
    }

    /**
     * A gap no new request fills gets the highest sequence moved down into it: the steps after hold ids 0..n-1 again,
     * and the moved sequences generate what they would have.
     */
    @Test
    void aGapThatLastsGetsTheHighestSequenceMovedIntoIt() {
        int[] lengths = {40, 3, 40, 3, 40, 40};
        List<int[]> prompts = prompts("story ", lengths.length);
        FakeEngine engine = engine(FakeEngine.builder().neverEnds().fillsIdGaps(true));
        RunnerConfig config = config(256, 8 * 256, 8, 64, 64);
        Runner runner = start(engine, config);
        List<RecordingObserver> all = runTogether(engine, runner, prompts, lengths); // ids 0 to 5
        FakeSession session = engine.session();
        assertEquals(2, session.moves(), "ids 1 and 3 freed early: 5 and 4 move down");
        assertEquals(2, runner.stats().idMoves());
        List<FakeSession.Step> steps = session.steps();
        // the four long generations end in ids 0 to 3 (the first may end a step before the others)
        SortedMap<Integer, Integer> last = steps.get(steps.size() - 2).tokensBySequence();
        assertTrue(last.lastKey() <= 3 && last.lastKey() - last.firstKey() + 1 == last.size(),
                "the last steps' ids: " + last.keySet());
        assertEachAsAlone(config, prompts, lengths, all);
    }

    /**
     * A finished conversation parked in a gap is moved up, above the running sequences, before the highest one
     * moves down: its next turn still continues from its cells.
     */
    @Test
    void aParkedConversationInTheGapMovesUpAndKeepsItsCells() {
        String system = "You are a helpful assistant. Answer in one short sentence, please. ";
        FakeEngine engine = engine(FakeEngine.builder().neverEnds().fillsIdGaps(true));
        Runner runner = start(engine, config(256, 8 * 256, 8, 64, 64));
        int[] turn1 = FakeEngine.prompt(system + "Tell me a story.");
        engine.pause(); // ids 0, 1 and 2 in this order
        RecordingObserver a = submit(runner, FakeEngine.prompt("a long one"), 60);
        RecordingObserver chat = submit(runner, turn1, 4);
        RecordingObserver c = submit(runner, FakeEngine.prompt("another long one"), 60);
        engine.resume();
        chat.awaitFinish(WAIT);
        a.awaitTokens(30, WAIT); // the chat's slot (1) is parked in the gap; 2 moves down into it
        assertEquals(2, runner.stats().idMoves(), "the parked slot up, the running sequence down");
        RunnerStats before = runner.stats();
        assertTrue(before.parkedFillers() > 0 && before.parkedFillers() == before.gapFillers(),
                "the gap's placeholders were the parked slot's: " + before);
        int[] answer = chat.tokens();
        int[] turn2 = nextTurn(turn1, answer, " And then?");
        RecordingObserver next = submit(runner, turn2, 4);
        next.awaitFinish(WAIT);
        assertEquals(engine.expectedText(turn2, 4), next.text());
        // every cell of the last turn is reused (its last answer token was sampled, never decoded)
        assertEquals(turn1.length + answer.length - 1, runner.stats().reusedPromptTokens());
        for (RecordingObserver o : List.of(a, c)) {
            assertEquals(FinishReason.LENGTH, o.awaitFinish(WAIT).reason());
        }
        assertEquals(runner.stats().kvCellsParked(), engine.session().usedCells());
    }

    /**
     * A gap whose parked slot has nowhere to go (no free id above the run, which sits against the last id): the slot
     * is freed, and when no new request takes the gap the highest sequence moves down into it. Before, no move was
     * made and the gap took a placeholder every step for good: two H200 replicas behind the router at 128 clients
     * carried 3.6 and 9.8 placeholders a step.
     */
    @Test
    void aParkedSlotWithNoRoomAboveTheRunIsFreedAndTheGapClosed() {
        int[] lengths = {3, 60, 8, 60, 60}; // ids 0 to 4 of 5: 0 parks first, then 2 parks inside the run
        List<int[]> prompts = prompts("a long enough story about a dog, number ", lengths.length);
        FakeEngine engine = engine(FakeEngine.builder().neverEnds().fillsIdGaps(true));
        RunnerConfig config = config(256, 5 * 256, 5, 64, 64);
        Runner runner = start(engine, config);
        List<RecordingObserver> all = runTogether(engine, runner, prompts, lengths);
        FakeSession session = engine.session();
        assertEquals(1, runner.stats().idMoves(), "slot 2 freed, then 4 down into it");
        assertTrue(runner.stats().kvCellsParked() > 0, "slot 0 stays parked");
        List<FakeSession.Step> steps = session.steps();
        SortedMap<Integer, Integer> late = steps.get(steps.size() - 10).tokensBySequence();
        assertEquals(List.of(1, 2, 3), List.copyOf(late.keySet()), "the run closed up: " + late.keySet());
        long lateFillers = steps.subList(steps.size() - 40, steps.size()).stream()
                .filter(st -> st.tokensBySequence().size() > 3).count();
        assertEquals(0, lateFillers, "no placeholder once the gap closed");
        assertEquals(runner.stats().kvCellsParked(), session.usedCells());
        assertEachAsAlone(config, prompts, lengths, all);
    }

    /**
     * In a run of more than {@value SequenceIds#SMALL_RUN} sequences a hole takes placeholders for
     * {@value SequenceIds#GAP_STEPS_BEFORE_MOVE} steps before it is closed (a move makes llama.cpp reserve its graph
     * again, dearer than many placeholders), and holes of the same age close in the same step.
     */
    @Test
    void aLongRunWaitsLongerBeforeMovingAndClosesItsHolesTogether() {
        int n = 12;
        // ids 0 to 11; 3 and 6 end first, at the same step (short prompts: nothing parks)
        List<int[]> prompts = new ArrayList<>();
        int[] lengths = new int[n];
        for (int i = 0; i < n; i++) {
            boolean early = i == 3 || i == 6;
            prompts.add(FakeEngine.prompt(early ? "s" + i : "l" + i));
            lengths[i] = early ? 4 : 140;
        }
        FakeEngine engine = engine(FakeEngine.builder().neverEnds().fillsIdGaps(true));
        RunnerConfig config = config(256, 16 * 256, 16, 64, 256);
        Runner runner = start(engine, config);
        // the placeholders counted up to the moves: at the end, a long sequence admitted a step before the others
        // finishes a step earlier and parks, and its slot then takes a parked slot's placeholder for that step
        long[] parkedAtMoves = {-1};
        Thread watch = Thread.ofPlatform().daemon().start(() -> {
            long until = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
            while (runner.stats().idMoves() < 2 && System.nanoTime() < until) {
                Thread.onSpinWait();
            }
            parkedAtMoves[0] = runner.stats().parkedFillers();
        });
        List<RecordingObserver> all = runTogether(engine, runner, prompts, lengths);
        try {
            watch.join();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        assertEquals(2, runner.stats().idMoves(), "11 into 3 and 10 into 6");
        assertTrue(runner.stats().gapFillers() > 0);
        assertEquals(0, parkedAtMoves[0], "free holes' placeholders are not a parked slot's");
        List<FakeSession.Step> steps = engine.session().steps();
        long filled = steps.stream().filter(st -> st.tokensBySequence().size() == n
                && st.tokensBySequence().lastKey() == n - 1).count();
        assertTrue(filled >= SequenceIds.GAP_STEPS_BEFORE_MOVE - 2 && filled <= SequenceIds.GAP_STEPS_BEFORE_MOVE + 6,
                "steps with the two holes filled by placeholders: " + filled);
        assertTrue(steps.stream().anyMatch(st -> st.tokensBySequence().size() == n - 2
                        && st.tokensBySequence().lastKey() == n - 3),
                "after the moves, ids 0 to 9 with no placeholder");
        assertEachAsAlone(config, prompts, lengths, all);
    }

    /**
     * An engine that asks for placeholders but will not cut one out: what holds that id loses its cells (a free id
     * here, so nothing running suffers), and no placeholder is asked for again. Every generation still completes
     * with the tokens it gets alone.
     */
    @Test
    void anEngineThatRefusesToCutAPlaceholderStopsGettingThem() {
        int[] lengths = {30, 3, 30};
        List<int[]> prompts = prompts("story ", lengths.length);
        FakeEngine engine = engine(FakeEngine.builder().neverEnds().refusesCuts());
        RunnerConfig config = config(256, 8 * 256, 8, 64, 64);
        Runner runner = start(engine, config);
        List<RecordingObserver> all = runTogether(engine, runner, prompts, lengths);
        assertEquals(1, runner.stats().gapFillers(), "one placeholder, refused, then none");
        assertEachAsAlone(config, prompts, lengths, all);
        assertEquals(runner.stats().kvCellsParked(), engine.session().usedCells());
    }

    /** A placeholder goes where the id's next token would: a parked slot's end, an active sequence's next position. */
    @Test
    void aClientThatCannotTakeATokenIsFilledAtItsNextPositionAndResumesUnchanged() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds().fillsIdGaps(true));
        Runner runner = start(engine, config(256, 4 * 256, 4, 16, 64));
        // the slow client takes no token until the first generation has 20: meanwhile its id (1) is a gap between
        // 0 and 2 (it is active, so nothing moves into it)
        RecordingObserver first = observer();
        RecordingObserver slow = observer().ready(false);
        first.onTokenCount(20, t -> slow.ready(true));
        engine.pause(); // all three take their ids (0, 1, 2) before the first generates
        runner.submit(new GenerationRequest(FakeEngine.prompt("alpha"), GREEDY, 40), first);
        runner.submit(new GenerationRequest(FakeEngine.prompt("beta"), GREEDY, 40), slow);
        RecordingObserver last = submit(runner, FakeEngine.prompt("gamma"), 40);
        engine.resume();
        for (RecordingObserver o : List.of(first, slow, last)) {
            assertEquals(FinishReason.LENGTH, o.awaitFinish(WAIT).reason());
        }
        assertTrue(engine.session().truncations() > 0, "no placeholder was decoded");
        assertTrue(runner.stats().gapFillers() > 0);
        // what the slow client got is what it gets alone
        Runner alone = start(engine(FakeEngine.builder().neverEnds()), config(256, 4 * 256, 4, 16, 64));
        RecordingObserver reference = submit(alone, FakeEngine.prompt("beta"), 40);
        reference.awaitFinish(WAIT);
        assertArrayEquals(reference.tokens(), slow.tokens());
    }

    /** {@code prefix + i} for i from 0 to n - 1, as prompts. */
    private static List<int[]> prompts(String prefix, int n) {
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            prompts.add(FakeEngine.prompt(prefix + i));
        }
        return prompts;
    }

    /**
     * Submits every request with the engine paused, so each has its id (0, 1, ... in order) before any finishes,
     * then lets them run; each must end at its length.
     */
    private List<RecordingObserver> runTogether(FakeEngine engine, Runner runner, List<int[]> prompts,
                                                int[] lengths) {
        List<RecordingObserver> all = new ArrayList<>();
        engine.pause();
        for (int i = 0; i < lengths.length; i++) {
            all.add(submit(runner, prompts.get(i), lengths[i]));
        }
        engine.resume();
        for (RecordingObserver o : all) {
            assertEquals(FinishReason.LENGTH, o.awaitFinish(WAIT).reason());
        }
        return all;
    }

    /** Each request, run alone on a runner without placeholders, generates what it generated in {@code all}. */
    private void assertEachAsAlone(RunnerConfig config, List<int[]> prompts, int[] lengths,
                                   List<RecordingObserver> all) {
        Runner reference = start(engine(FakeEngine.builder().neverEnds()), config);
        for (int i = 0; i < lengths.length; i++) {
            RecordingObserver o = submit(reference, prompts.get(i), lengths[i]);
            o.awaitFinish(WAIT);
            assertArrayEquals(o.tokens(), all.get(i).tokens(), "request " + i);
        }
    }

    /** Each request's tokens, with the runner idle at the end and no cell held but the parked slots'. */
    private List<int[]> run(FakeEngine engine, int[] lengths) {
        Runner runner = start(engine, config(256, 8 * 256, 8, 64, 64));
        List<RecordingObserver> all = new ArrayList<>();
        engine.pause(); // every request has its id before any finishes
        for (int i = 0; i < lengths.length; i++) {
            all.add(submit(runner, FakeEngine.prompt("story " + i), lengths[i]));
        }
        engine.resume();
        // a later request takes a freed id while the long ones still run
        all.getLast().awaitTokens(12, WAIT);
        RecordingObserver late = submit(runner, FakeEngine.prompt("late"), 10);
        all.add(late);
        List<int[]> tokens = new ArrayList<>();
        for (RecordingObserver o : all) {
            assertEquals(FinishReason.LENGTH, o.awaitFinish(WAIT).reason());
            tokens.add(o.tokens());
        }
        RunnerStats s = runner.stats();
        assertEquals(0, s.kvCellsUsed());
        assertEquals(s.kvCellsParked(), engine.session().usedCells(), "cells besides the parked slots'");
        return tokens;
    }

    /**
     * Prompts that generate nothing (scored prompts) beside generations whose ids leave gaps: where something
     * generates they keep a token in the run; in a step where nothing generates they wait for the budget, oldest
     * first, and no placeholder takes the place a prompt's chunk starts at (the fake session checks each batch's
     * positions). Every scored prompt is decoded whole and ends at its length, and the generations generate what
     * they would alone.
     */
    @Test
    void scoredPromptsBesideGenerationsAndGapsKeepEveryBatchWhole() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds().fillsIdGaps(true));
        RunnerConfig config = config(256, 8 * 256, 8, 64, 16);
        Runner runner = start(engine, config);
        engine.pause();
        int[] lengths = {30, 3, 30};
        List<int[]> prompts = prompts("story ", lengths.length);
        List<RecordingObserver> gens = new ArrayList<>();
        for (int i = 0; i < lengths.length; i++) {
            gens.add(submit(runner, prompts.get(i), lengths[i]));
        }
        List<RecordingObserver> scored = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            RecordingObserver o = observer();
            runner.submit(new GenerationRequest(promptOfLength(40 + 7 * i), GREEDY, 5).promptOnlyRequest(), o);
            scored.add(o);
        }
        awaitGate(engine);
        engine.resume();
        for (RecordingObserver o : scored) {
            RecordingObserver.Outcome done = o.awaitFinish(WAIT);
            assertEquals(FinishReason.LENGTH, done.reason());
            assertEquals(0, o.tokenCount(), "a prompt-only request generates nothing");
        }
        for (RecordingObserver o : gens) {
            o.awaitFinish(WAIT);
        }
        assertEachAsAlone(config, prompts, lengths, gens);
        // a step of scored prompts alone is the oldest's chunk, not single tokens of each
        FakeEngine alone = engine(FakeEngine.builder().neverEnds().fillsIdGaps(true));
        Runner scoring = start(alone, config(256, 8 * 256, 8, 64, 16));
        alone.pause();
        List<RecordingObserver> two = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            RecordingObserver o = observer();
            scoring.submit(new GenerationRequest(promptOfLength(40), GREEDY, 5).promptOnlyRequest(), o);
            two.add(o);
        }
        awaitGate(alone);
        alone.resume();
        two.forEach(o -> o.awaitFinish(WAIT));
        // (prompts of 40 tokens, 16 a step: chunks of 16 and 8, never a single token of the prompt that waits)
        for (FakeSession.Step step : alone.session().steps()) {
            assertFalse(step.tokensBySequence().containsValue(1), "step " + step.number() + ": "
                    + step.tokensBySequence());
        }
    }
}
