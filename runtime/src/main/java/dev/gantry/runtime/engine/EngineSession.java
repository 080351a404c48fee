package dev.gantry.runtime.engine;

/**
 * A decoding session: one KV cache shared by up to {@link #maxSequences()} sequences, and the batch that the next
 * {@link #decode()} will run. Runner thread only: nothing here is thread-safe.
 */
public interface EngineSession extends AutoCloseable {
    int kvCells();

    int maxSequences();

    int batchCapacity();

    void clearBatch();

    /** Adds a token to the batch; returns its index (the output index when {@code output} is true). */
    int add(int token, int position, int sequence, boolean output);

    int batchSize();

    /** Decodes the batch. */
    DecodeStatus decode();

    /**
     * Creates the sampler for a sequence. {@code history} are the sequence's tokens so far (the prompt), for
     * repetition penalties. The engine may place it on the device (backend sampling).
     */
    SequenceSampler newSampler(int sequence, SamplingParams params, int[] history);

    /**
     * As {@link #newSampler(int, SamplingParams, int[])}, knowing that {@code history[promptLength..]} were
     * generated: a grammar must be fed those (a sequence re-admitted after preemption resumes mid-document) and
     * never the prompt.
     */
    default SequenceSampler newSampler(int sequence, SamplingParams params, int[] history, int promptLength) {
        return newSampler(sequence, params, history);
    }

    /**
     * As {@link #newSampler(int, SamplingParams, int[], int)}, for a sequence whose log probabilities are asked
     * ({@link #logprobs}): its logits must come to the host, so it is never sampled on the device.
     */
    default SequenceSampler newHostSampler(int sequence, SamplingParams params, int[] history, int promptLength) {
        return newSampler(sequence, params, history, promptLength);
    }

    /**
     * The log probabilities at output {@code outputIndex} of the last decode: {@code token}'s and the {@code top}
     * most likely tokens'. After the outputs were sampled, before the next decode; null when the engine cannot
     * tell (the default).
     */
    default dev.gantry.runtime.sampling.TokenLogprobs logprobs(int outputIndex, int token, int top) {
        return null;
    }

    /**
     * {@link #logprobs(int, int, int)} for the first {@code n} outputs of {@code outputIndexes} (each with its own
     * token and top), in an array by index; an engine may compute them on several cores. Entries are null where the
     * engine cannot tell.
     */
    default dev.gantry.runtime.sampling.TokenLogprobs[] logprobs(int[] outputIndexes, int[] tokens, int[] tops,
                                                                 int n) {
        dev.gantry.runtime.sampling.TokenLogprobs[] out = new dev.gantry.runtime.sampling.TokenLogprobs[n];
        for (int i = 0; i < n; i++) {
            out[i] = logprobs(outputIndexes[i], tokens[i], tops[i]);
        }
        return out;
    }

    /** Samples output {@code outputIndex} of the last decode for the sampler's sequence, and accepts the token. */
    int sample(SequenceSampler sampler, int outputIndex);

    /**
     * Waits for the last {@link #decode()} to finish on the device (a decode may return once its work is queued);
     * sampling waits anyway, so this only separates the device's time from the sampler's. The default does nothing.
     */
    default void synchronize() {}

    /**
     * Says, before the runner waits for the last decode, which outputs the next {@link #sampleAll} will get (the
     * same arrays and count): an engine may hand out the work ahead, so that the threads that share it are ready
     * when the outputs are. The default does nothing.
     */
    default void prepareSampling(SequenceSampler[] samplers, int[] outputIndexes, int n) {}

    /**
     * Samples the first {@code n} samplers at their output indexes into {@code tokens}, in any order or in
     * parallel (an engine may spread the work over cores). The default samples one after another.
     *
     * @throws SamplingException when some outputs failed, after every other output was sampled
     */
    default void sampleAll(SequenceSampler[] samplers, int[] outputIndexes, int n, int[] tokens) {
        Throwable[] failures = null;
        for (int i = 0; i < n; i++) {
            try {
                tokens[i] = sample(samplers[i], outputIndexes[i]);
            } catch (RuntimeException e) {
                if (failures == null) {
                    failures = new Throwable[n];
                }
                failures[i] = e;
            }
        }
        if (failures != null) {
            throw new SamplingException(failures);
        }
    }

    /**
     * Whether prompt tokens may be decoded ahead: a decode whose tokens make no output, queued after a step's decode
     * has finished and before its outputs are sampled ({@link #startSampling}), so the device works through the next
     * step's prompts while the host samples this one's. Only where the sampling rows stay as they are under such a
     * decode and the device runs it apart from the host (a GPU's queue). The default: no.
     */
    default boolean decodesAhead() {
        return false;
    }

    /**
     * Starts {@link #sampleAll} on other threads and returns at once, or returns null where it cannot (a sampler on
     * the device; the caller then calls {@link #sampleAll}). Every row is read, or located, before this returns, so
     * with {@link #decodesAhead} a decode without outputs may run before {@link PendingSamples#join}: until then
     * the caller may only {@link #clearBatch}, {@link #add} tokens that are no output and {@link #decode} them.
     */
    default PendingSamples startSampling(SequenceSampler[] samplers, int[] outputIndexes, int n, int[] tokens) {
        return null;
    }

    /** Sampling {@link #startSampling} started. */
    interface PendingSamples {
        /**
         * Waits for every token to be in place.
         *
         * @throws SamplingException when some outputs failed, after every other output was sampled
         */
        void join();
    }

    /**
     * Whether the next {@link #decode()} outputs embeddings. While on, every token of the batch is an output (llama.cpp
     * outputs all tokens of an embedding decode), so each token's embedding can be read by its batch index.
     */
    default void embeddings(boolean on) {
        if (on) {
            throw new UnsupportedOperationException("this engine cannot compute embeddings");
        }
    }

    /**
     * A reranker's scores of {@code sequence} from the last decode, which held the end of its input
     * ({@link Pooling#RANK}: the model's classifier head over its pooled output) into {@code out}.
     */
    default void sequenceScores(int sequence, float[] out) {
        throw new UnsupportedOperationException("this engine cannot score");
    }

    /** Adds the embedding of batch token {@code batchIndex} of the last decode (made with embeddings on) to {@code sum}. */
    default void addEmbedding(int batchIndex, float[] sum) {
        throw new UnsupportedOperationException("this engine cannot compute embeddings");
    }

    /**
     * True when an embedding input must be decoded whole in one step (an encoder, {@link Engine#wholeInputs()}):
     * its tokens attend to each other in one pass and no cache carries a chunk over to the next step.
     */
    default boolean wholeInputs() {
        return false;
    }

    /** Readies a sequence slot for an embedding input (it takes no sampler: a device sampler would reject it). */
    default void beginEmbedding(int sequence) {}

    /**
     * True when an embedding decode may not carry the multi-token prompt chunks of generating sequences: with
     * device samplers attached, llama.cpp allows one output per sampled sequence, and an embedding decode outputs
     * every token. Generating sequences' single next tokens may always ride along.
     */
    default boolean embeddingsApartFromPrompts() {
        return false;
    }

    /** Frees every KV cell of a sequence. */
    void freeSequence(int sequence);

    /**
     * Keeps a sequence's cells for positions below {@code keep} and frees the rest, so a new request that starts
     * with the same tokens continues from there. False when the engine cannot (a recurrent model's state, or a
     * sliding-window cache that has already dropped early positions): the caller then frees the whole sequence.
     * The default cannot.
     */
    default boolean keepPrefix(int sequence, int keep) {
        return false;
    }

    /**
     * Whether the runner should fill the gaps between a step's sequence ids with placeholder tokens. An engine that
     * puts sequences into one forward pass only as a run of consecutive ids (llama.cpp with one KV stream a
     * sequence) makes a step whose ids have a gap (a finished sequence's id not taken again yet, a client that
     * cannot take a token) into two passes, each as costly as the whole step; a placeholder token for each missing
     * id (no output, taken out again with {@link #truncate} after the decode) keeps the step one pass. Only an engine
     * whose cells can be cut back says yes. The default does not.
     */
    default boolean fillsIdGaps() {
        return false;
    }

    /**
     * Frees a sequence's cells from {@code position} on (a placeholder's, after its decode); false when the engine
     * would not (it then stops asking for placeholders).
     */
    default boolean truncate(int sequence, int position) {
        throw new UnsupportedOperationException("this engine cannot cut a sequence's cells");
    }

    /**
     * Whether {@link #moveSequence} works: the runner then moves a sequence down into a gap between ids that no new
     * request fills, so later steps need neither a second pass nor placeholders. The default cannot.
     */
    default boolean movesSequences() {
        return false;
    }

    /**
     * Moves every cell of sequence {@code from} to sequence {@code to}, which holds none; {@code from} holds none
     * after. Its sampler stays valid (a sequence that moves samples on the host).
     */
    default void moveSequence(int from, int to) {
        throw new UnsupportedOperationException("this engine cannot move a sequence");
    }

    /**
     * Shifts a full sequence's context as Ollama does: drops its cells at positions {@code [keep, keep + discard)}
     * and moves the later ones down by {@code discard}, so it can go on generating. False when the engine cannot
     * (the default; the sequence then ends at its length), and nothing changed.
     */
    default boolean shift(int sequence, int keep, int discard) {
        return false;
    }

    /** Forward passes the decodes so far took, as the engine splits its batches; 0 when it does not count them. */
    default long forwardPasses() {
        return 0;
    }

    @Override
    void close();

    enum DecodeStatus {
        OK,
        /** No free KV slot for the batch; nothing was kept. */
        NO_KV_SLOT
    }
}
