package dev.gantry.runtime.engine;

/**
 * What an engine's library reports it allocated on each GPU while a record is open (weights, KV cache, compute
 * buffers), to check the placement's memory estimate against. Engines that cannot tell use {@link #NONE}.
 */
public interface AllocationRecord extends AutoCloseable {
    /** Records nothing; {@link #gpuBytes} is always -1. */
    AllocationRecord NONE = gpu -> -1;

    /** Bytes reported on GPU {@code gpu} (the library's GPU index), or -1 when unknown. */
    long gpuBytes(int gpu);

    @Override
    default void close() {
    }
}
