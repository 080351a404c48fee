package dev.gantry.runtime.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.testing.FakeEngine;
import dev.gantry.runtime.testing.FakeSession;
import dev.gantry.runtime.testing.RecordingObserver;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * A finished generation's cells stay parked in its slot; a request that starts the same way takes the slot over and
 * decodes only the rest. The fake session checks that the kept cells are exactly the new request's first tokens and
 * that positions continue from them; the output must be what a fresh decode gives.
 */
class RunnerPrefixCacheTest extends RunnerTestBase {
    private static final String SYSTEM = "You are a helpful assistant. Answer in one short sentence, please. ";

    @Test
    void aRequestThatStartsLikeAFinishedOneDecodesOnlyTheRest() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(256, 1024, 4, 4, 512));
        int[] first = FakeEngine.prompt(SYSTEM + "What is a fox?");
        int[] second = FakeEngine.prompt(SYSTEM + "Why is the sky blue?");
        RecordingObserver a = submit(runner, first, 8);
        assertEquals(engine.expectedText(first, 8), a.awaitFinish(WAIT).metrics() != null ? a.text() : null);
        RecordingObserver b = submit(runner, second, 8);
        b.awaitFinish(WAIT);
        assertEquals(engine.expectedText(second, 8), b.text());
        int common = Arrays.mismatch(first, second);
        assertTrue(common >= Runner.MIN_REUSE, "the prompts share " + common + " tokens");
        RunnerStats s = runner.stats();
        assertEquals(common, s.reusedPromptTokens());
        assertEquals(first.length + second.length - common, s.promptTokens(), s.toString());
        assertEquals(1, engine.session().prefixesKept());
        assertEquals(0, s.kvCellsUsed());
        assertEquals(s.kvCellsParked(), engine.session().usedCells());
    }

    /**
     * An engine that fails to cut a parked slot's cells back to the prefix a new request shares leaves the cache in
     * a state the runner does not know: the runner fails, as before, and the request that was being admitted (off
     * the waiting list, not active yet) is told, not left hanging; so is one that was generating beside it.
     */
    @Test
    void aFailureToKeepAParkedPrefixFailsTheRequestBeingAdmittedToo() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(256, 1024, 4, 4, 512));
        int[] first = FakeEngine.prompt(SYSTEM + "What is a fox?");
        submit(runner, first, 8).awaitFinish(WAIT);
        engine.pause(); // the next request comes while beside's first decode waits: beside is still generating
        RecordingObserver beside = submit(runner, FakeEngine.prompt("A long story, please."), 10_000);
        awaitGate(engine);
        engine.failNextKeepPrefix(new FakeEngine.InjectedFailure("the cache refused the cut"));
        RecordingObserver second = submit(runner, FakeEngine.prompt(SYSTEM + "Why is the sky blue?"), 8);
        engine.resume();
        assertTrue(second.awaitError(WAIT) instanceof FakeEngine.InjectedFailure);
        assertTrue(beside.awaitError(WAIT) instanceof FakeEngine.InjectedFailure);
    }

    /** The next turn of a conversation holds the last turn's prompt and answer: all of it is reused. */
    @Test
    void theNextTurnOfAConversationContinuesFromTheLastTurnsCells() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(256, 1024, 4, 4, 512));
        int[] turn1 = FakeEngine.prompt(SYSTEM + "Tell me a story.");
        RecordingObserver a = submit(runner, turn1, 8);
        a.awaitFinish(WAIT);
        int[] answer = a.tokens();
        int[] turn2 = nextTurn(turn1, answer, " And then?");
        RecordingObserver b = submit(runner, turn2, 8);
        b.awaitFinish(WAIT);
        assertEquals(engine.expectedText(turn2, 8), b.text());
        // the last answer token was sampled but never decoded: every cell before it is reused
        assertEquals(turn1.length + answer.length - 1, runner.stats().reusedPromptTokens());
    }

    /**
     * A new request takes a free id next to the running ones rather than the parked slot of a finished conversation
     * between them: the conversation's next turn still finds its cells.
     */
    @Test
    void aNewRequestTakesAFreeIdRatherThanAParkedConversationsSlot() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(256, 8 * 256, 8, 8, 512));
        int[] turn1 = FakeEngine.prompt(SYSTEM + "Tell me a story.");
        engine.pause(); // ids 0, 1 and 2 in this order
        RecordingObserver a = submit(runner, FakeEngine.prompt("a long one"), 80);
        RecordingObserver chat = submit(runner, turn1, 4);
        RecordingObserver c = submit(runner, FakeEngine.prompt("another long one"), 80);
        engine.resume();
        chat.awaitFinish(WAIT); // slot 1 parked between 0 and 2
        RecordingObserver d = submit(runner, FakeEngine.prompt("a newcomer"), 8);
        d.awaitFinish(WAIT);
        int[] answer = chat.tokens();
        int[] turn2 = nextTurn(turn1, answer, " And then?");
        RecordingObserver next = submit(runner, turn2, 4);
        next.awaitFinish(WAIT);
        assertEquals(engine.expectedText(turn2, 4), next.text());
        assertEquals(turn1.length + answer.length - 1, runner.stats().reusedPromptTokens(),
                "the newcomer left the conversation's cells alone");
        a.awaitFinish(WAIT);
        c.awaitFinish(WAIT);
    }

    /** Parked cells are the first to go when a new request needs the room. */
    @Test
    void parkedCellsGiveWayToARequestThatNeedsTheRoom() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(160, 160, 2, 4, 512));
        int[] first = promptOfLength(100);
        submit(runner, first, 4).awaitFinish(WAIT);
        assertTrue(runner.stats().kvCellsParked() > 100);
        int[] other = FakeEngine.prompt("x".repeat(99));
        RecordingObserver b = submit(runner, other, 8);
        b.awaitFinish(WAIT);
        assertEquals(engine.expectedText(other, 8), b.text());
        RunnerStats s = runner.stats();
        assertEquals(0, s.preemptions(), "no running sequence was preempted for parked cells");
        assertEquals(0, s.reusedPromptTokens());
        FakeSession session = engine.session();
        assertTrue(session.peakUsedCells() <= 160);
    }

    /** While others run, a newcomer evicts the oldest parked slot rather than wait. */
    @Test
    void aNewcomerEvictsTheOldestParkedSlotWhileOthersRun() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(200, 300, 3, 4, 512));
        submit(runner, promptOfLength(120), 2).awaitFinish(WAIT);
        RecordingObserver running = submit(runner, FakeEngine.prompt("keep going"), 60);
        running.awaitTokens(2, WAIT);
        RecordingObserver newcomer = submit(runner, FakeEngine.prompt("y".repeat(120)), 4);
        newcomer.awaitFinish(WAIT);
        running.awaitFinish(WAIT);
        assertEquals(engine.expectedText(FakeEngine.prompt("y".repeat(120)), 4), newcomer.text());
        assertEquals(0, runner.stats().preemptions());
    }

    /** An engine that cannot cut a sequence (a recurrent model) recomputes: the output is the same. */
    @Test
    void anEngineThatCannotKeepAPrefixRecomputesIt() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds().keepsPrefixes(false));
        Runner runner = start(engine, config(256, 1024, 4, 4, 512));
        int[] first = FakeEngine.prompt(SYSTEM + "One?");
        int[] second = FakeEngine.prompt(SYSTEM + "Two?");
        submit(runner, first, 6).awaitFinish(WAIT);
        RecordingObserver b = submit(runner, second, 6);
        b.awaitFinish(WAIT);
        assertEquals(engine.expectedText(second, 6), b.text());
        assertEquals(0, runner.stats().reusedPromptTokens());
        assertEquals(first.length + second.length, runner.stats().promptTokens());
    }

    /** Short shared beginnings (a BOS and a word) are not worth a slot: the lowest free slot is taken. */
    @Test
    void aShortCommonPrefixDoesNotTakeAParkedSlotOver() {
        FakeEngine engine = engine(FakeEngine.builder().neverEnds());
        Runner runner = start(engine, config(256, 1024, 4, 4, 512));
        submit(runner, FakeEngine.prompt("Hello there, how are you doing today?"), 4).awaitFinish(WAIT);
        RecordingObserver b = submit(runner, FakeEngine.prompt("Hello! What time is it in Lisbon?"), 4);
        b.awaitFinish(WAIT);
        assertEquals(engine.expectedText(FakeEngine.prompt("Hello! What time is it in Lisbon?"), 4), b.text());
        assertEquals(0, runner.stats().reusedPromptTokens());
    }
}
