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
        return new Session(params);
    }

    @Override
    public void close() {}

    private static final class Session implements EngineSession {
        private final SessionParams params;
        private final int[] seqOf;
        private final int[] counter;
        private int size;

        Session(SessionParams params) {
            this.params = params;
            this.seqOf = new int[params.batchCapacity()];
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
        }

        @Override
        public int add(int token, int position, int sequence, boolean output) {
            seqOf[size] = sequence;
            return size++;
        }

        @Override
        public int batchSize() {
            return size;
        }

        @Override
        public DecodeStatus decode() {
            return DecodeStatus.OK;
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
        public void close() {}
    }
}
