package dev.gantry.bench.jmh;

import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.EngineInfo;
import dev.gantry.runtime.engine.EngineSession;
import dev.gantry.runtime.engine.SamplingParams;
import dev.gantry.runtime.engine.SequenceSampler;
import dev.gantry.runtime.engine.SessionParams;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * An engine whose decode costs nothing, so a benchmark of the runner measures only Gantry's Java work per token.
 * Tokens are bytes; generation cycles through a fixed text and never ends by itself.
 */
final class NullEngine implements Engine {
    /** What a decode costs in this engine: nothing by default; {@link RunnerSim} gives it a GPU's step costs. */
    interface StepCost {
        StepCost FREE = (outputs, tokens) -> 0;

        /** Nanoseconds for a batch of {@code tokens} tokens, {@code outputs} of them outputs. */
        long nanos(int outputs, int tokens);
    }

    private final StepCost cost;
    /** Forward passes and decodes of every costed session, for {@link RunnerSim}'s report. */
    static final java.util.concurrent.atomic.AtomicLong PASSES = new java.util.concurrent.atomic.AtomicLong();
    static final java.util.concurrent.atomic.AtomicLong DECODES = new java.util.concurrent.atomic.AtomicLong();
    /** Runs of consecutive ids among each batch's sequences: the passes a batch of one token each would take. */
    static final java.util.concurrent.atomic.AtomicLong RUNS = new java.util.concurrent.atomic.AtomicLong();

    NullEngine() {
        this(StepCost.FREE);
    }

    NullEngine(StepCost cost) {
        this.cost = cost;
    }

    private static final byte[] TEXT = " there was a little girl named Lily.".getBytes(StandardCharsets.UTF_8);
    private static final byte[][] PIECES = new byte[259][];

    static {
        for (int i = 0; i < 256; i++) {
            PIECES[i + 3] = new byte[] {(byte) i};
        }
        PIECES[0] = PIECES[1] = PIECES[2] = new byte[0];
    }

    @Override
    public EngineInfo info() {
        return new EngineInfo(259, 4096, 0, 0, "cpu", List.of("null"), 0, false);
    }

    @Override
    public int[] tokenize(String text, boolean addSpecial, boolean parseSpecial) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] out = new int[b.length + 1];
        out[0] = 1;
        for (int i = 0; i < b.length; i++) {
            out[i + 1] = (b[i] & 0xff) + 3;
        }
        return out;
    }

    @Override
    public byte[] piece(int token) {
        return PIECES[token];
    }

    @Override
    public boolean isEndOfGeneration(int token) {
        return token == 2;
    }

    @Override
    public String applyChatTemplate(List<ChatMessage> messages, boolean addAssistant) {
        return messages.getLast().content();
    }

    @Override
    public EngineSession openSession(SessionParams params) {
        return new Session(params, cost);
    }

    @Override
    public void close() {}

    /** -Dsim.moveMs=R,C (see Session#moveNanos); empty: moves cost nothing. */
    static final double[] MOVE_COST = java.util.Arrays.stream(System.getProperty("sim.moveMs", "").split(","))
            .filter(v -> !v.isBlank()).mapToDouble(Double::parseDouble).toArray();

    private static final class Session implements EngineSession {
        private final SessionParams params;
        private final StepCost cost;
        private final int[] seqOf;
        private final int[] counter;
        private int size;
        private long passes; // forward passes of this session's decodes
        private int outputs;
        private final boolean[] isOutput;
        private int movedSinceDecode;

        Session(SessionParams params, StepCost cost) {
            this.params = params;
            this.cost = cost;
            this.seqOf = new int[params.batchCapacity()];
            this.isOutput = new boolean[params.batchCapacity()];
            this.counter = new int[params.maxSequences()];
        }

        @Override
        public int kvCells() {
            return params.kvCells();
        }

        @Override
        public int maxSequences() {
            return params.maxSequences();
        }

        @Override
        public int batchCapacity() {
            return params.batchCapacity();
        }

        @Override
        public void clearBatch() {
            size = 0;
            outputs = 0;
        }

        @Override
        public int add(int token, int position, int sequence, boolean output) {
            seqOf[size] = sequence;
            isOutput[size] = output;
            if (output) {
                outputs++;
            }
            return size++;
        }

        @Override
        public int batchSize() {
            return size;
        }

        @Override
        public DecodeStatus decode() {
            if (cost == StepCost.FREE) {
                return DecodeStatus.OK;
            }
            long start = System.nanoTime();
            List<int[]> batches = microBatches();
            long nanos = moveNanos();
            for (int[] pass : batches) {
                nanos += cost.nanos(pass[0], pass[1]);
            }
            PASSES.addAndGet(batches.size());
            passes += batches.size();
            int[] ids = java.util.Arrays.stream(seqOf, 0, size).distinct().sorted().toArray();
            int runs = 0;
            for (int i = 0; i < ids.length; i++) {
                runs += i == 0 || ids[i] != ids[i - 1] + 1 ? 1 : 0;
            }
            RUNS.addAndGet(runs);
            DECODES.incrementAndGet();
            // the simulated time, less what working out the passes took
            java.util.concurrent.locks.LockSupport.parkNanos(nanos - (System.nanoTime() - start));
            return DecodeStatus.OK;
        }

        /**
         * The forward passes llama.cpp makes of this batch with one KV stream per sequence, as its documentation
         * of equal splits describes them: each pass takes a run of sequences with consecutive, increasing ids
         * (in the order their tokens first appear among those not yet taken) and the same number of tokens from
         * each, up to 512 tokens. Each pass as {outputs, tokens}.
         */
        List<int[]> microBatches() {
            boolean[] used = new boolean[size];
            List<int[]> out = new java.util.ArrayList<>();
            int left = size;
            while (left > 0) {
                List<Integer> run = new java.util.ArrayList<>();
                for (int i = 0; i < size; i++) {
                    if (!used[i] && !run.contains(seqOf[i])
                            && (run.isEmpty() || seqOf[i] == run.getLast() + 1)) {
                        run.add(seqOf[i]);
                    }
                }
                int tokens = 0;
                int outs = 0;
                int[] next = new int[run.size()];
                while (true) {
                    int[] take = new int[run.size()];
                    boolean all = true;
                    for (int r = 0; r < run.size() && all; r++) {
                        int i = next[r];
                        while (i < size && (used[i] || seqOf[i] != run.get(r))) {
                            i++;
                        }
                        take[r] = i;
                        all = i < size;
                    }
                    if (!all || tokens + run.size() > 512) {
                        break;
                    }
                    for (int r = 0; r < run.size(); r++) {
                        used[take[r]] = true;
                        next[r] = take[r] + 1;
                        outs += isOutput[take[r]] ? 1 : 0;
                    }
                    tokens += run.size();
                    left -= run.size();
                }
                out.add(new int[] {outs, tokens});
            }
            return out;
        }

        @Override
        public SequenceSampler newSampler(int sequence, SamplingParams p, int[] history) {
            counter[sequence] = 0;
            return new SequenceSampler() {
                @Override
                public int sequence() {
                    return sequence;
                }

                @Override
                public boolean onDevice() {
                    return false;
                }

                @Override
                public void close() {}
            };
        }

        @Override
        public int sample(SequenceSampler sampler, int outputIndex) {
            int s = sampler.sequence();
            return (TEXT[counter[s]++ % TEXT.length] & 0xff) + 3;
        }

        @Override
        public void freeSequence(int sequence) {}

        @Override
        public long forwardPasses() {
            return passes;
        }

        /** As llama.cpp's session with one KV stream a sequence; -Dsim.fill=false studies the runner without it. */
        @Override
        public boolean fillsIdGaps() {
            return cost != StepCost.FREE && Boolean.parseBoolean(System.getProperty("sim.fill", "true"));
        }

        @Override
        public boolean truncate(int sequence, int position) {
            return true;
        }

        @Override
        public boolean movesSequences() {
            return fillsIdGaps();
        }

        @Override
        public void moveSequence(int from, int to) {
            counter[to] = counter[from];
            movedSinceDecode++;
        }

        /**
         * What the moves since the last decode cost the next one (-Dsim.moveMs=R,C: R ms once, as llama.cpp reserves
         * its worst-case graph again after a memory update, and C ms a move for the copy; 0 by default). On an H200
         * at 64 clients, 0.13 to 0.23 moves a step made each step's decode 1.7 to 2 ms longer (bench/RESULTS.md).
         */
        private long moveNanos() {
            if (movedSinceDecode == 0 || MOVE_COST.length == 0) {
                return 0;
            }
            long n = (long) (1e6 * (MOVE_COST[0] + (MOVE_COST.length > 1 ? MOVE_COST[1] : 0) * movedSinceDecode));
            movedSinceDecode = 0;
            return n;
        }

        @Override
        public void close() {}
    }
}
