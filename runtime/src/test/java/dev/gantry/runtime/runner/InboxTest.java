package dev.gantry.runtime.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.testing.RecordingObserver;
import java.util.ArrayDeque;
import org.junit.jupiter.api.Test;

/** The runner's inbox on its own: the bound on outstanding sequences, refusals once stopped, moving to waiting. */
class InboxTest {
    private static Sequence sequence() {
        return new Sequence(new GenerationRequest(new int[] {1, 2, 3}, SamplingParams.greedyDefaults(), 4),
                new RecordingObserver(), System.nanoTime());
    }

    @Test
    void refusesBeyondSlotsPlusQueueUntilOneIsSettled() {
        Inbox inbox = new Inbox("r", 2, 1);
        for (int i = 0; i < 3; i++) {
            inbox.offer(sequence(), () -> true);
        }
        QueueFullException full = assertThrows(QueueFullException.class, () -> inbox.offer(sequence(), () -> true));
        assertEquals("server busy, please try again.  maximum pending requests exceeded", full.getMessage());
        assertEquals(3, inbox.outstanding());
        assertEquals(1, inbox.rejected());
        inbox.settled(sequence());
        inbox.offer(sequence(), () -> true);
        assertEquals(3, inbox.outstanding());
        assertEquals(4, inbox.queued());
    }

    @Test
    void anAdmittedRequestsFurtherInputsQueueBeyondTheBound() {
        Inbox inbox = new Inbox("r", 2, 1);
        for (int i = 0; i < 5; i++) {
            inbox.offer(sequence(), () -> true, i > 0);
        }
        assertEquals(5, inbox.outstanding());
        assertEquals(0, inbox.rejected());
    }

    /**
     * The bound counts requests, as Ollama's queue does: two embedding batches of 5 inputs each are two requests, and
     * a third request still gets in (counting inputs, the first batch's followers had filled the queue).
     */
    @Test
    void otherRequestsFollowersDoNotCountTowardTheBound() {
        Inbox inbox = new Inbox("r", 2, 1);
        Sequence[] first = new Sequence[5];
        for (int i = 0; i < 5; i++) {
            first[i] = inbox.offer(sequence(), () -> true, i > 0);
        }
        for (int i = 0; i < 5; i++) {
            inbox.offer(sequence(), () -> true, i > 0);
        }
        inbox.offer(sequence(), () -> true); // the third request
        assertEquals(11, inbox.outstanding());
        assertThrows(QueueFullException.class, () -> inbox.offer(sequence(), () -> true), "a fourth is one too many");
        for (int i = 1; i < 5; i++) {
            inbox.settled(first[i]); // followers leave: the requests in flight stay three
        }
        assertThrows(QueueFullException.class, () -> inbox.offer(sequence(), () -> true));
        inbox.settled(first[0]);
        inbox.offer(sequence(), () -> true);
        assertEquals(7, inbox.outstanding());
    }

    /**
     * A request of many inputs admitted as a whole counts once until it closes, however many of its inputs are out
     * or already done (counting only its first input, a batch stopped counting once that input finished).
     */
    @Test
    void anAdmittedBatchCountsOnceUntilItCloses() {
        Inbox inbox = new Inbox("r", 2, 1);
        Runner.Admission batch = inbox.admitBatch(() -> true);
        Sequence[] inputs = new Sequence[10];
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = inbox.offer(sequence(), () -> true, true);
        }
        for (Sequence s : inputs) {
            inbox.settled(s); // the batch between waves: none of its inputs out
        }
        inbox.offer(sequence(), () -> true);
        inbox.offer(sequence(), () -> true);
        assertThrows(QueueFullException.class, () -> inbox.offer(sequence(), () -> true), "the batch still counts");
        assertThrows(QueueFullException.class, () -> inbox.admitBatch(() -> true));
        batch.close();
        batch.close(); // once is enough
        inbox.offer(sequence(), () -> true);
        assertThrows(QueueFullException.class, () -> inbox.offer(sequence(), () -> true));
    }

    @Test
    void aStoppedRunnerTakesNothingAndCountsNothing() {
        Inbox inbox = new Inbox("r", 2, 1);
        assertThrows(IllegalStateException.class, () -> inbox.offer(sequence(), () -> false));
        // stopped between the check and the queueing: the sequence is taken back out, uncounted
        boolean[] checks = {true, false};
        int[] call = {0};
        assertThrows(IllegalStateException.class, () -> inbox.offer(sequence(), () -> checks[call[0]++]));
        assertEquals(0, inbox.outstanding());
        assertEquals(0, inbox.queued());
        assertNull(inbox.poll());
    }

    @Test
    void movesEverythingQueuedAndWaitsOnlyWhenAsked() throws InterruptedException {
        Inbox inbox = new Inbox("r", 4, 4);
        ArrayDeque<Sequence> waiting = new ArrayDeque<>();
        assertTrue(inbox.moveTo(waiting, 0), "no wait: there is work to look at anyway");
        assertFalse(inbox.moveTo(waiting, 1), "waited, and none came");
        Sequence a = inbox.offer(sequence(), () -> true);
        Sequence b = inbox.offer(sequence(), () -> true);
        assertTrue(inbox.moveTo(waiting, 50));
        assertSame(a, waiting.pollFirst());
        assertSame(b, waiting.pollFirst());
        assertEquals(0, inbox.queued());
        assertEquals(2, inbox.outstanding(), "moved to waiting, still owed an answer");
    }
}
