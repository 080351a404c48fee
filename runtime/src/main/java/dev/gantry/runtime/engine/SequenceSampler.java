package dev.gantry.runtime.engine;

/** The sampling state of one sequence; closed by the runner when the sequence ends. Runner thread only. */
public interface SequenceSampler extends AutoCloseable {
    int sequence();

    /** True when tokens are chosen on the device and only their ids come back. */
    boolean onDevice();

    @Override
    void close();
}
