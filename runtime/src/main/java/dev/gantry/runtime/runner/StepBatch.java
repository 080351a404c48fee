package dev.gantry.runtime.runner;

import dev.gantry.runtime.engine.EngineSession;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Fills one step's batch from the runner's active sequences: the next token of every generating sequence whose
 * client can take it, then chunks of prompts (and embedding inputs) up to the step's prompt budget. Sets each
 * sequence's {@code chunk} (tokens it has in this step) and {@code batchIndex} (its output's index, or -1), and
 * counts what went in. Runner thread only; one per runner (it keeps a scratch array).
 */
final class StepBatch {
    /** Sequences with tokens in the step. */
    int sequences;
    /** Of those, the ones that generate (a generating token or a prompt chunk of a generation). */
    int generating;
    /** Whether an embedding input has tokens in the step. */
    boolean embeddings;

    /**
     * The tokens an encoder's step carries at most on a GPU, unless its first input is longer
     * ({@code -Dgantry.encoderPass} sets another, for measuring; the CPU's is {@link #ENCODER_CPU_PASS_TOKENS}). On
     * an H200, passes of up to 1024 tokens embedded 1.16 to 1.47 times the inputs a second of passes of 512 at 16
     * and 64 clients, and of 1536 and 2048 fewer again (bench/RESULTS.md).
     */
    static final int ENCODER_PASS_TOKENS = Integer.getInteger("gantry.encoderPass", 1024);
    /** {@link #ENCODER_PASS_TOKENS} on the CPU, which has no flash attention for an encoder's pass. */
    static final int ENCODER_CPU_PASS_TOKENS = 512;

    /** This runner's {@link #ENCODER_PASS_TOKENS} (its backend's). */
    private int encoderPassTokens = ENCODER_PASS_TOKENS;

    private Sequence[] byId = new Sequence[0];

    /**
     * Clears the session's batch and fills it.
     *
     * @param active the runner's active sequences, oldest first
     * @param budget the prompt tokens this step may carry besides the generating tokens
     */
    void fill(List<Sequence> active, EngineSession session, int budget) {
        session.clearBatch();
        sequences = 0;
        generating = 0;
        embeddings = false;
        int count = active.size();
        if (byId.length < count) {
            byId = new Sequence[Math.max(count, 2 * byId.length)];
        }
        for (int i = 0; i < count; i++) {
            byId[i] = active.get(i);
        }
        Arrays.sort(byId, 0, count, Comparator.comparingInt(q -> q.id));
        // With device samplers an embedding decode cannot carry other prompts: this step takes the kind of the
        // oldest sequence that has prompt tokens to decode, so neither kind waits behind the other for long.
        Boolean onlyEmbeddings = null;
        if (session.embeddingsApartFromPrompts()) {
            for (Sequence s : active) {
                if (s.embedding || s.pending() > 1) {
                    onlyEmbeddings = s.embedding;
                    break;
                }
            }
        }
        // First one token of every sequence, in increasing id order: a generating sequence's next token, a prompt's
        // next prompt token. With one KV stream per sequence llama.cpp makes a micro-batch only of a run of
        // consecutive ids, so a sequence left out of the batch (a prompt waiting for budget) would split the step
        // into one forward pass per run; so would an id between two sequences that no sequence holds (one that
        // finished a step ago), and where the engine allows it such gaps get a placeholder token (see fillGap).
        fillers = 0;
        parkedFillers = 0;
        scoringRoom = scoringOutputs;
        // A prompt that generates nothing (one scored) takes a token here only beside a generating token, to keep
        // their run whole; in a step where nothing generates it waits for the budget below, oldest first, so the
        // step is one pass of the oldest prompt's chunk rather than one more pass of single tokens.
        boolean anyGenerating = false;
        boolean anyScoring = false;
        for (int i = 0; i < count && !anyGenerating; i++) {
            Sequence s = byId[i];
            anyGenerating = !s.embedding && s.pending() == 1 && !s.request.promptOnly() && ready(s);
            anyScoring |= !s.embedding && s.pending() > 1 && s.request.promptOnly();
        }
        // (such a step fills no gaps: a placeholder would take the place the prompt's chunk starts at)
        boolean holdScoring = !anyGenerating && anyScoring;
        boolean fill = FILL_ID_GAPS && session.fillsIdGaps() && !anyEmbedding(active) && !holdScoring;
        int previous = -1; // the id of the last sequence given a token here
        for (int i = 0; i < count; i++) {
            Sequence s = byId[i];
            byId[i] = null;
            s.chunk = 0;
            s.batchIndex = -1;
            if (s.scoreOutputs != null) {
                Arrays.fill(s.scoreOutputs, -1);
            }
            if (s.embedding) {
                continue; // its chunk goes in whole below: its outputs are read as one run of batch indexes
            }
            boolean generatingToken = s.pending() == 1 && ready(s);
            boolean promptToken = s.pending() > 1 && budget > 0 && onlyEmbeddings != Boolean.TRUE
                    && !(holdScoring && s.request.promptOnly());
            if (!generatingToken && !promptToken) {
                if (fill) {
                    skippedAt(s.id, s.cached);
                }
                continue;
            }
            if (fill && previous >= 0 && s.id > previous + 1) {
                fillGap(session, previous + 1, s.id);
            }
            previous = s.id;
            if (generatingToken) {
                s.batchIndex = session.add(s.tokens[s.cached], s.cached, s.id, true);
            } else {
                boolean score = s.scores(s.cached); // at most one output a sequence here: within llama.cpp's rows
                int idx = session.add(s.tokens[s.cached], s.cached, s.id, score);
                if (score) {
                    s.scoreOutput(0, idx);
                    scoringRoom--;
                }
                budget--;
            }
            s.chunk = 1;
            sequences++;
            generating++;
        }
        if (fill) {
            clearSkipped();
        }
        // An encoder's steps take whole inputs up to encoderPassTokens, whatever the prompt budget (nothing
        // generates, so a longer step delays no token), and an input longer than that alone: its batch holds one
        // whole context at least. Passes are not packed fuller: llama.cpp attends an encoder's pass as one square,
        // every token against every token of the pass, and builds its mask on the host, so a pass's cost grows with
        // the square of its length (bench/RESULTS.md: steps of 2675 tokens took 78 ms where 417 took 7, and 256 lost
        // as much the other way, a pass costing about 7 ms however short).
        boolean whole = session.wholeInputs();
        int room = session.batchCapacity() - session.batchSize();
        boolean firstInput = true;
        budget = whole ? Math.min(room, encoderPassTokens - session.batchSize()) : Math.min(budget, room);
        // Then the rest of the prompt budget, oldest sequence first.
        for (Sequence s : active) {
            if (budget <= 0) {
                break;
            }
            int left = s.pending() - s.chunk;
            if (s.embedding ? left == 0 : (s.chunk == 0 ? s.pending() <= 1 : left <= 0)) {
                continue;
            }
            if (onlyEmbeddings != null && onlyEmbeddings != s.embedding) {
                continue;
            }
            if (whole && s.embedding && left > budget) {
                if (!firstInput || left > room) {
                    continue; // an encoder's input goes in whole, or waits for the next step
                }
                budget = left; // a step's first input goes whatever its length, where the batch holds it
            }
            firstInput &= !(whole && s.embedding);
            int n = whole && s.embedding ? left : Math.min(budget, left);
            for (int i = 0; i < n; i++) {
                int pos = s.cached + s.chunk + i;
                boolean last = pos == s.length - 1;
                boolean score = s.scores(pos);
                if (score && scoringRoom <= 0) {
                    n = i; // the step has as many scoring outputs as it takes: the rest waits for the next
                    break;
                }
                int idx = session.add(s.tokens[pos], pos, s.id, last || s.embedding || score);
                if (score) {
                    s.scoreOutput(s.chunk + i, idx);
                    scoringRoom--;
                }
                if (s.embedding ? i == 0 : last) {
                    s.batchIndex = idx;
                }
            }
            if (n == 0) {
                continue;
            }
            if (s.chunk == 0) {
                sequences++;
                if (s.embedding) {
                    embeddings = true;
                } else {
                    generating++;
                }
            }
            s.chunk += n;
            budget -= n;
        }
    }

    /**
     * The host memory a step's scoring rows may take ({@link #scoringOutputsFor}): each output is a row of logits
     * llama.cpp copies to the host (512 KB for a vocabulary of 128K) and keeps room for (the largest buffer a step
     * needed stays), and a row the runner reads, on its sampling cores, before the step's tokens are sampled.
     */
    static final long SCORING_BYTES = 256L << 20;
    /** The most scoring outputs a step makes, whatever the vocabulary (a prompt budget's worth). */
    static final int MAX_SCORING_OUTPUTS = 512;
    /** {@code -Dgantry.scoringOutputs=N} sets the number, for measuring. */
    private static final Integer FORCED_SCORING_OUTPUTS = Integer.getInteger("gantry.scoringOutputs");

    /**
     * Outputs a step makes at most for scoring prompts ({@link Sequence#scores}) beyond one a sequence, for a
     * vocabulary of {@code vocab} tokens: {@link #MAX_SCORING_OUTPUTS} where their rows fit {@link #SCORING_BYTES}
     * (a 128K vocabulary), fewer for a larger one, at least 64; a long prompt is scored over several steps. On an
     * H200 prompts of 512 tokens were scored at 6462 and 6699 tokens a second at 4 and 32 clients with 512 a
     * step, 4905 and 4695 with 256 (bench/RESULTS.md).
     */
    static int scoringOutputsFor(int vocab) {
        if (FORCED_SCORING_OUTPUTS != null) {
            return Math.max(1, FORCED_SCORING_OUTPUTS);
        }
        return (int) Math.clamp(SCORING_BYTES / (4L * Math.max(1, vocab)), 64, MAX_SCORING_OUTPUTS);
    }

    /** This runner's {@link #scoringOutputsFor}. */
    private int scoringOutputs = 256;

    /** Sets the scoring outputs a step makes at most, for the model's vocabulary. */
    void scoringOutputs(int outputs) {
        scoringOutputs = outputs;
    }

    /** Scoring outputs this step may still make. */
    private int scoringRoom;

    /** {@code -Dgantry.fillIdGaps=false} leaves gaps unfilled: for measuring what filling them gains. */
    private static final boolean FILL_ID_GAPS = !"false".equals(System.getProperty("gantry.fillIdGaps"));

    /**
     * Placeholder tokens put into this step's batch to close gaps between sequence ids: their sequence ids and
     * positions ({@code fillerIds[0..fillers)}, {@code fillerPositions}), cut out again by {@link #removeFillers}.
     */
    int fillers;
    /** Of this step's placeholders, those at a parked slot's id (its cells kept for a request that starts alike). */
    int parkedFillers;
    private int[] fillerIds = new int[8];
    private int[] fillerPositions = new int[8];

    /** Cells slot {@code id} holds while no active sequence has it: a parked slot's length, or 0 for a free one. */
    private final java.util.function.IntUnaryOperator restingLength;
    // active sequences left out of this step (a client that cannot take a token, a prompt without budget): the
    // position their next token will take, by id; -1 elsewhere
    private int[] skipped = new int[0];

    /** Sets the tokens an encoder's step carries at most, for the runner's backend. */
    void encoderPassTokens(int tokens) {
        encoderPassTokens = tokens;
    }

    StepBatch(java.util.function.IntUnaryOperator restingLength) {
        this.restingLength = restingLength;
    }

    private void skippedAt(int id, int position) {
        if (id >= skipped.length) {
            int old = skipped.length;
            skipped = Arrays.copyOf(skipped, Math.max(id + 1, 2 * old));
            Arrays.fill(skipped, old, skipped.length, -1);
        }
        skipped[id] = position;
    }

    /**
     * A placeholder token for each id in {@code [from, to)}, at the position after the cells that id's stream holds
     * (an active sequence's next position, a parked slot's length, 0 for a free id), without output. An id whose
     * stream has no cell left for it stays a gap.
     */
    private void fillGap(EngineSession session, int from, int to) {
        int streamCells = session.kvCells() / Math.max(1, session.maxSequences());
        for (int id = from; id < to; id++) {
            boolean skippedSequence = id < skipped.length && skipped[id] >= 0;
            int position = skippedSequence ? skipped[id] : restingLength.applyAsInt(id);
            if (position >= streamCells || session.batchSize() == session.batchCapacity()) {
                continue;
            }
            session.add(0, position, id, false);
            if (!skippedSequence && position > 0) {
                parkedFillers++; // a free id's stream is empty: its placeholder goes at 0
            }
            if (fillers == fillerIds.length) {
                fillerIds = Arrays.copyOf(fillerIds, 2 * fillers);
                fillerPositions = Arrays.copyOf(fillerPositions, 2 * fillers);
            }
            fillerIds[fillers] = id;
            fillerPositions[fillers] = position;
            fillers++;
        }
    }

    /**
     * Cuts each placeholder's cells out again after the decode, whatever its outcome, so each id's stream is as it
     * was before the step; an id whose cut the engine refuses goes to {@code refused}.
     */
    void removeFillers(EngineSession session, java.util.function.IntConsumer refused) {
        for (int i = 0; i < fillers; i++) {
            if (!session.truncate(fillerIds[i], fillerPositions[i])) {
                refused.accept(fillerIds[i]);
            }
        }
        fillers = 0;
    }

    private void clearSkipped() {
        Arrays.fill(skipped, -1);
    }

    private static boolean anyEmbedding(List<Sequence> active) {
        for (Sequence s : active) {
            if (s.embedding) {
                return true;
            }
        }
        return false;
    }

    /** Whether a generation's client can take another token (a client whose check throws is not held back). */
    private static boolean ready(Sequence s) {
        try {
            return s.observer.isReady();
        } catch (RuntimeException e) {
            return true;
        }
    }
}
