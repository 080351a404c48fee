package dev.gantry.runtime.place;

import java.util.Objects;
import java.util.Set;

/**
 * One GPU as discovery saw it: memory and the GPUs it has peer access to (NVLink or PCIe P2P).
 *
 * <p>Immutable and thread-safe.
 *
 * @param id         the GPU's index as llama.cpp numbers its devices (what {@code main_gpu} and
 *                   {@code tensor_split} refer to)
 * @param totalBytes the card's memory
 * @param freeBytes  memory free when discovered (other processes may hold the rest)
 * @param peers      ids of the GPUs this one can access directly
 */
public record Device(int id, String name, long totalBytes, long freeBytes, Set<Integer> peers) {

    public Device {
        Objects.requireNonNull(name, "name");
        peers = Set.copyOf(peers);
        if (id < 0 || totalBytes < 0 || freeBytes < 0) {
            throw new IllegalArgumentException("GPU " + id + ": negative id or memory");
        }
    }

    /**
     * Bytes Gantry may use here: the ceiling ({@code fraction} of the card) or what is free, whichever is
     * less, so memory another process holds is never counted twice.
     */
    public long usableBytes(double fraction) {
        return Math.min(freeBytes, (long) (totalBytes * fraction));
    }

    /** Whether the two GPUs can reach each other directly: each lists the other, as both directions get enabled. */
    public boolean isPeerOf(Device other) {
        return other.id == id || (peers.contains(other.id) && other.peers.contains(id));
    }
}
