package dev.gantry.runtime.runner;

import dev.gantry.runtime.engine.EngineSession;
import dev.gantry.runtime.engine.SamplingException;
import dev.gantry.runtime.engine.SequenceSampler;

/**
 * One step's outputs to sample, in batch order: each sequence, its sampler, its output's batch index and, after
 * {@link #sample}, its token. The arrays are reused from step to step. Runner thread only.
 */
final class StepOutputs {
    int count;
    Sequence[] sequences = new Sequence[0];
    private SequenceSampler[] samplers = new SequenceSampler[0];
    private int[] indexes = new int[0];
    int[] tokens = new int[0];

    /** Empties the list, with room for {@code capacity} outputs. */
    void clear(int capacity) {
        count = 0;
        if (sequences.length < capacity) {
            int n = Math.max(capacity, 2 * sequences.length);
            sequences = new Sequence[n];
            samplers = new SequenceSampler[n];
            indexes = new int[n];
            tokens = new int[n];
        }
    }

    /** A sequence whose output this step's batch holds at its {@code batchIndex}. */
    void add(Sequence s) {
        sequences[count] = s;
        samplers[count] = s.sampler;
        indexes[count] = s.batchIndex;
        count++;
    }

    /** Tells the engine, before the runner waits for the decode, which outputs {@link #sample} will ask for. */
    void prepare(EngineSession session) {
        session.prepareSampling(samplers, indexes, count);
    }

    /**
     * Samples every output together into {@link #tokens}; the failure of the outputs that could not be sampled
     * (the others' tokens are in place), or null.
     */
    SamplingException sample(EngineSession session) {
        try {
            session.sampleAll(samplers, indexes, count, tokens);
            return null;
        } catch (SamplingException e) {
            return e;
        }
    }

    /**
     * Starts sampling every output on other threads ({@link EngineSession#startSampling}); null where the engine
     * cannot, and then {@link #sample} does it.
     */
    EngineSession.PendingSamples start(EngineSession session) {
        return session.startSampling(samplers, indexes, count, tokens);
    }

    /** Waits for what {@link #start} started: as {@link #sample}'s result. */
    SamplingException join(EngineSession.PendingSamples pending) {
        try {
            pending.join();
            return null;
        } catch (SamplingException e) {
            return e;
        }
    }

    /** Drops output {@code i}'s references once it is handled. */
    void forget(int i) {
        sequences[i] = null;
        samplers[i] = null;
    }
}
