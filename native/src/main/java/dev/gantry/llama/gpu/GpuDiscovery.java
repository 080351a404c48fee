package dev.gantry.llama.gpu;

import static java.lang.System.Logger.Level.INFO;
import static java.lang.System.Logger.Level.WARNING;

import dev.gantry.llama.BackendDevice;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Merges what llama.cpp, the CUDA driver and NVML each know about the GPUs into one {@link GpuInventory}, and picks
 * GPUs for {@code --gpus}. Pure functions of their arguments (no native calls, no environment), so every case is
 * tested with fakes.
 *
 * <p>How the sources line up: llama.cpp's {@code CUDA<n>} is CUDA ordinal {@code n} (both count after
 * {@code CUDA_VISIBLE_DEVICES}). NVML counts every GPU of the host in PCI order and ignores
 * {@code CUDA_VISIBLE_DEVICES}, so CUDA and NVML are matched by PCI bus id only, never by position.
 */
public final class GpuDiscovery {
    public static final String LLAMA = "llama.cpp";
    public static final String CUDA = "CUDA driver";
    public static final String NVML = "NVML";

    private static final Pattern CUDA_NAME = Pattern.compile("CUDA(\\d+)");

    private GpuDiscovery() {}

    /**
     * The GPUs of every source, merged. A source that is unavailable contributes nothing and its reason goes into
     * {@link GpuInventory#sources}; the others still work.
     *
     * @param llama              llama.cpp's backend devices (CPU ones are ignored)
     * @param cuda               the CUDA driver's view
     * @param nvml               NVML's devices
     * @param cudaVisibleDevices the environment's {@code CUDA_VISIBLE_DEVICES}, for messages only
     */
    public static GpuInventory merge(Probe<List<BackendDevice>> llama, Probe<CudaTopology> cuda,
                                     Probe<List<NvmlDevice>> nvml, Optional<String> cudaVisibleDevices) {
        List<BackendDevice> llamaGpus = llama.value()
                .map(all -> all.stream().filter(BackendDevice::isGpu).toList()).orElse(List.of());
        List<CudaDevice> cudaDevices = cuda.value().map(CudaTopology::devices).orElse(List.of());
        List<NvmlDevice> nvmlDevices = nvml.value().orElse(List.of());
        List<GpuInventory.Note> notes = new ArrayList<>();

        TreeMap<Integer, BackendDevice> llamaByOrdinal = new TreeMap<>();
        List<BackendDevice> llamaOthers = new ArrayList<>();
        for (BackendDevice d : llamaGpus) {
            int ordinal = cudaOrdinal(d.name());
            if (ordinal >= 0 && !llamaByOrdinal.containsKey(ordinal)) {
                llamaByOrdinal.put(ordinal, d);
            } else {
                llamaOthers.add(d);
            }
        }
        TreeSet<Integer> ordinals = new TreeSet<>(llamaByOrdinal.keySet());
        cudaDevices.forEach(c -> ordinals.add(c.ordinal()));
        Map<String, NvmlDevice> nvmlByBus = new HashMap<>();
        for (NvmlDevice n : nvmlDevices) {
            if (!n.pciBusId().isEmpty()) {
                nvmlByBus.putIfAbsent(n.pciBusId(), n);
            }
        }

        List<GpuInfo> gpus = new ArrayList<>();
        Set<Integer> matchedNvml = new HashSet<>();
        List<String> withoutBackend = new ArrayList<>();
        for (int ordinal : ordinals) {
            BackendDevice l = llamaByOrdinal.get(ordinal);
            CudaDevice c = cuda.value().flatMap(t -> t.device(ordinal)).orElse(null);
            NvmlDevice n = c == null || c.pciBusId().isEmpty() ? null : nvmlByBus.get(c.pciBusId());
            if (n != null) {
                matchedNvml.add(n.index());
            } else if (c != null && nvml.isAvailable()) {
                notes.add(new GpuInventory.Note(WARNING, "CUDA GPU " + ordinal + " (" + c.name() + ", "
                        + (c.pciBusId().isEmpty() ? "no PCI bus id" : c.pciBusId()) + ") has no NVML device at its "
                        + "PCI bus id: no utilisation, temperature or power for it"));
            }
            if (l == null && llama.isAvailable()) {
                withoutBackend.add(String.valueOf(ordinal));
            }
            gpus.add(info(ordinal, l, c, n));
        }
        int next = ordinals.isEmpty() ? 0 : ordinals.last() + 1;
        for (BackendDevice l : llamaOthers) {
            notes.add(new GpuInventory.Note(INFO, "llama.cpp device " + l.name() + " is not a CUDA device: "
                    + "it has no topology or telemetry; it is GPU " + next));
            gpus.add(info(next++, l, null, null));
        }

        if (!withoutBackend.isEmpty()) {
            notes.add(new GpuInventory.Note(WARNING, "llama.cpp has no backend for CUDA GPU "
                    + String.join(", ", withoutBackend) + ": models will not use it; point GANTRY_LLAMA_LIB (or "
                    + "--llama-lib) at a CUDA build of llama.cpp"));
        }
        List<NvmlDevice> unmatched = nvmlDevices.stream().filter(n -> !matchedNvml.contains(n.index())).toList();
        if (!unmatched.isEmpty() && cuda.isAvailable()) {
            notes.add(new GpuInventory.Note(INFO, "NVML sees " + unmatched.size() + " GPU(s) the CUDA driver does "
                    + "not" + cudaVisibleDevices.map(v -> " (CUDA_VISIBLE_DEVICES=" + v + ")").orElse("") + ": "
                    + unmatched.stream().map(n -> n.index() + " " + n.pciBusId()).collect(Collectors.joining(", "))));
        } else if (!nvmlDevices.isEmpty() && !cuda.isAvailable()) {
            notes.add(new GpuInventory.Note(INFO, "without the CUDA driver API, NVML's " + nvmlDevices.size()
                    + " GPU(s) cannot be matched by PCI bus id: no utilisation, temperature or power per GPU"));
        }

        List<GpuSource> sources = List.of(
                GpuSource.of(LLAMA, llama, llamaGpus.isEmpty() ? "no GPU backend (CPU only)"
                        : count(llamaGpus.size(), "GPU") + ": "
                        + llamaGpus.stream().map(BackendDevice::name).collect(Collectors.joining(", "))),
                GpuSource.of(CUDA, cuda, cuda.value().map(t -> "CUDA " + t.driverVersionText() + ", "
                        + count(t.devices().size(), "device") + " visible").orElse("")
                        + cudaVisibleDevices.map(v -> " (CUDA_VISIBLE_DEVICES=" + v + ")").orElse("")),
                GpuSource.of(NVML, nvml, count(nvmlDevices.size(), "GPU")));
        return new GpuInventory(gpus, peers(gpus, cuda), sources, notes, cudaVisibleDevices);
    }

    /**
     * The GPUs {@code ids} names (as {@code --gpus 0,1,2,3} splits into), in that order; an empty list means all.
     *
     * @throws IllegalArgumentException for an id that is not a number, not visible, or repeated; the message lists
     *                                  the visible GPUs
     */
    public static GpuInventory select(GpuInventory inventory, List<String> ids) {
        List<Integer> indexes = new ArrayList<>(ids.size());
        for (String raw : ids) {
            String id = raw.strip();
            try {
                indexes.add(Integer.parseInt(id));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--gpus: \"" + id + "\" is not a GPU id; " + visible(inventory));
            }
        }
        return selectIndexes(inventory, indexes);
    }

    /**
     * The GPUs with these indexes, in this order; an empty list means all. For ids the caller already parsed (the
     * server's {@code --gpus 0,1:2,3} groups, flattened).
     *
     * @throws IllegalArgumentException for an index that is not a visible GPU, or one given twice
     */
    public static GpuInventory selectIndexes(GpuInventory inventory, List<Integer> indexes) {
        if (indexes.isEmpty()) {
            return inventory;
        }
        List<Integer> chosen = new ArrayList<>();
        for (int index : indexes) {
            if (inventory.gpu(index).isEmpty()) {
                throw new IllegalArgumentException("--gpus: there is no GPU " + index + "; " + visible(inventory));
            }
            if (chosen.contains(index)) {
                throw new IllegalArgumentException("--gpus: GPU " + index + " is listed twice");
            }
            chosen.add(index);
        }
        List<GpuInfo> gpus = chosen.stream().map(i -> inventory.gpu(i).orElseThrow()).toList();
        return new GpuInventory(gpus, inventory.peers().restrict(chosen), inventory.sources(), inventory.notes(),
                inventory.cudaVisibleDevices());
    }

    /** The CUDA ordinal in a llama.cpp device name ({@code CUDA3} is 3), or -1. */
    static int cudaOrdinal(String backendName) {
        Matcher m = CUDA_NAME.matcher(backendName);
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    private static GpuInfo info(int index, BackendDevice l, CudaDevice c, NvmlDevice n) {
        String name = c != null ? c.name()
                : n != null ? n.name()
                : !l.description().isBlank() ? l.description() : l.name();
        long total = c != null && c.totalBytes() > 0 ? c.totalBytes()
                : l != null && l.totalBytes() > 0 ? l.totalBytes() : -1;
        long free = l != null && l.totalBytes() > 0 ? l.freeBytes() : -1;
        return new GpuInfo(index, l == null ? "" : l.name(), l == null ? -1 : l.index(), name,
                c == null ? "" : c.pciBusId(), n == null ? "" : n.uuid(), total, free,
                c == null ? -1 : c.computeMajor(), c == null ? -1 : c.computeMinor(), c == null ? -1 : c.smCount(),
                c == null ? -1 : c.memoryBusWidthBits(), c == null ? -1 : c.memoryClockKHz(),
                c == null ? -1 : c.ordinal(), n == null ? -1 : n.index());
    }

    private static PeerAccess peers(List<GpuInfo> gpus, Probe<CudaTopology> cuda) {
        PeerAccess.Link[][] links = new PeerAccess.Link[gpus.size()][gpus.size()];
        for (int i = 0; i < gpus.size(); i++) {
            for (int j = 0; j < gpus.size(); j++) {
                int from = gpus.get(i).cudaOrdinal();
                int to = gpus.get(j).cudaOrdinal();
                links[i][j] = from < 0 || to < 0 || cuda.value().isEmpty() ? PeerAccess.Link.UNKNOWN
                        : cuda.get().peers().link(from, to);
            }
        }
        return PeerAccess.of(gpus.stream().map(GpuInfo::index).toList(), links);
    }

    private static String visible(GpuInventory inventory) {
        String env = inventory.cudaVisibleDevices().map(v -> " (CUDA_VISIBLE_DEVICES=" + v + ")").orElse("");
        if (inventory.gpus().isEmpty()) {
            String why = inventory.sources().stream().filter(s -> !s.available()).map(GpuSource::toString)
                    .collect(Collectors.joining("; "));
            return "no GPU is visible" + env + (why.isEmpty() ? "" : ": " + why);
        }
        return "visible GPUs" + env + ": "
                + inventory.gpus().stream().map(GpuInfo::describe).collect(Collectors.joining(", "));
    }

    private static String count(int n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }
}
