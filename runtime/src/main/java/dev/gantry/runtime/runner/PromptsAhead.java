package dev.gantry.runtime.runner;

import dev.gantry.runtime.engine.EngineSession;
import java.util.Arrays;
import java.util.List;

/**
 * Prompt tokens decoded ahead ({@link EngineSession#decodesAhead}): once a step's decode is done and its outputs'
 * sampling has started, a decode of the next step's prompt chunks, each prompt's tokens but its last, without
 * outputs; the device works through them while the host samples. The next step's batch gives each of those prompts
 * its last token beside the generating ones (its output is the first token's row) and takes the tokens ahead out of
 * its prompt budget. Runner thread only; one per runner (it keeps scratch arrays).
 */
final class PromptsAhead {
    /** Prompt tokens the last {@link #decode} took out of the next step's budget. */
    private int taken;
    // the sequences the last decode gave tokens, and how many each (reused)
    private Sequence[] sequences = new Sequence[8];
    private int[] counts = new int[8];

    /**
     * Whether a step's outputs may be sampled while prompt chunks are decoded ahead: where the engine can and no
     * output's row is read after its sampling (log probabilities). They are when some prompt can go ahead
     * ({@link #any}).
     */
    static boolean allowed(StepOutputs outputs, EngineSession session) {
        if (outputs.count == 0 || !session.decodesAhead()) {
            return false;
        }
        for (int i = 0; i < outputs.count; i++) {
            if (outputs.sequences[i].request.logprobs() >= 0) {
                return false;
            }
        }
        return true;
    }

    /** Whether some active sequence's prompt can go ahead. */
    static boolean any(List<Sequence> active) {
        for (Sequence s : active) {
            if (goesAhead(s)) {
                return true;
            }
        }
        return false;
    }

    /**
     * A prompt of a generation with two tokens or more to decode: all but its last may go ahead (the last makes the
     * output its first token is sampled from, in the step's one pass of a token a sequence). Not an embedding input
     * nor a prompt whose tokens are scored (their tokens make outputs), nor one whose finish was asked.
     */
    static boolean goesAhead(Sequence s) {
        return !s.embedding && s.pending() >= 2 && !s.request.promptLogprobs() && !s.request.promptOnly()
                && s.requestedFinish() == null;
    }

    /** The prompt tokens the last decode took out of this step's budget; forgets them. */
    int takeTaken() {
        int t = taken;
        taken = 0;
        return t;
    }

    /**
     * Decodes, without outputs, the prompt tokens of {@code active} but each prompt's last, oldest prompt first,
     * within {@code budget}; how many went in is counted for {@link #takeTaken}. A decode that finds no cells leaves
     * everything as it was: the next step decodes those tokens, or preempts.
     */
    void decode(List<Sequence> active, EngineSession session, int budget, KvCells cells, RunnerCounters totals) {
        session.clearBatch();
        budget = Math.min(budget, session.batchCapacity());
        int k = 0;
        for (Sequence s : active) {
            if (budget <= 0) {
                break;
            }
            if (!goesAhead(s)) {
                continue;
            }
            int n = Math.min(budget, s.pending() - 1);
            for (int i = 0; i < n; i++) {
                session.add(s.tokens[s.cached + i], s.cached + i, s.id, false);
            }
            if (k == sequences.length) {
                sequences = Arrays.copyOf(sequences, 2 * k);
                counts = Arrays.copyOf(counts, 2 * k);
            }
            sequences[k] = s;
            counts[k++] = n;
            budget -= n;
        }
        if (k == 0) {
            return;
        }
        long start = System.nanoTime();
        int decoded = 0;
        try {
            EngineSession.DecodeStatus status = session.decode();
            for (int i = 0; i < k && status == EngineSession.DecodeStatus.OK; i++) {
                totals.promptTokens += sequences[i].decoded(counts[i]);
                cells.decoded(counts[i]);
                decoded += counts[i];
            }
        } finally {
            totals.decodeNanos += System.nanoTime() - start;
            totals.forwardPasses = session.forwardPasses();
            Arrays.fill(sequences, 0, k, null);
        }
        totals.aheadTokens += decoded;
        taken = decoded;
    }
}
