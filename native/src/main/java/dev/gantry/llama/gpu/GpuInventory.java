package dev.gantry.llama.gpu;

import java.util.List;
import java.util.Optional;

/**
 * The GPUs this process can use, the peer access between them, what each source said, and what the merge noticed
 * (a GPU llama.cpp cannot use, a GPU NVML cannot match). Immutable; built by {@link GpuDiscovery#merge}.
 *
 * @param gpus               ordered by {@link GpuInfo#index}, or in {@code --gpus} order after {@link #select}
 * @param peers              over the GPUs' indexes
 * @param sources            llama.cpp, the CUDA driver and NVML, in that order
 * @param notes              things worth a log line, with their level
 * @param cudaVisibleDevices {@code CUDA_VISIBLE_DEVICES} when set
 */
public record GpuInventory(List<GpuInfo> gpus, PeerAccess peers, List<GpuSource> sources, List<Note> notes,
                           Optional<String> cudaVisibleDevices) {
    /** A finding worth logging once. */
    public record Note(System.Logger.Level level, String text) {}

    public GpuInventory {
        gpus = List.copyOf(gpus);
        sources = List.copyOf(sources);
        notes = List.copyOf(notes);
    }

    public Optional<GpuInfo> gpu(int index) {
        return gpus.stream().filter(g -> g.index() == index).findFirst();
    }

    public List<Integer> indexes() {
        return gpus.stream().map(GpuInfo::index).toList();
    }

    public Optional<GpuSource> source(String name) {
        return sources.stream().filter(s -> s.name().equals(name)).findFirst();
    }

    /**
     * The GPUs a {@code --gpus} list names, in its order; an empty list keeps them all.
     *
     * @throws IllegalArgumentException for an id that is not a visible GPU, listing the visible ones
     */
    public GpuInventory select(List<String> ids) {
        return GpuDiscovery.select(this, ids);
    }

    /** {@link #select} for ids already parsed. */
    public GpuInventory selectIndexes(List<Integer> indexes) {
        return GpuDiscovery.selectIndexes(this, indexes);
    }
}
