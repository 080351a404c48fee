package dev.gantry.runtime.engine;

/**
 * The decoding session a runner opens.
 *
 * @param kvCells         KV cells shared by all sequences (a unified cache)
 * @param maxSequences    sequences decoded together
 * @param batchCapacity   tokens one decode step may carry
 * @param threads         CPU threads for llama.cpp
 * @param backendSampling sample on the device where the engine supports it
 * @param kvUnified       one KV buffer for all sequences; false gives each sequence its own stream of
 *                        {@code kvCells / maxSequences} cells
 */
public record SessionParams(int kvCells, int maxSequences, int batchCapacity, int threads, boolean backendSampling,
                            boolean kvUnified) {
    /** A unified KV cache (every sequence may use any cell). */
    public SessionParams(int kvCells, int maxSequences, int batchCapacity, int threads, boolean backendSampling) {
        this(kvCells, maxSequences, batchCapacity, threads, backendSampling, true);
    }

    public SessionParams {
        if (kvCells <= 0 || maxSequences <= 0 || batchCapacity < maxSequences || threads <= 0) {
            throw new IllegalArgumentException("invalid session: kvCells=" + kvCells + ", maxSequences=" + maxSequences
                    + ", batchCapacity=" + batchCapacity + ", threads=" + threads);
        }
    }
}
