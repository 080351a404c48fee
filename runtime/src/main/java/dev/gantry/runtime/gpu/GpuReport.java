package dev.gantry.runtime.gpu;

import dev.gantry.llama.BackendDevice;
import dev.gantry.llama.LlamaCpp;
import dev.gantry.llama.gpu.CudaTopology;
import dev.gantry.llama.gpu.GpuDiscovery;
import dev.gantry.llama.gpu.GpuInfo;
import dev.gantry.llama.gpu.GpuInventory;
import dev.gantry.llama.gpu.GpuSource;
import dev.gantry.llama.gpu.GpuTelemetry;
import dev.gantry.llama.gpu.Nvml;
import dev.gantry.llama.gpu.NvmlDevice;
import dev.gantry.llama.gpu.Probe;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * GPU discovery end to end, for the server: llama.cpp's devices, the CUDA driver's topology and NVML's telemetry,
 * merged, with one reading of each GPU. Immutable. The entry point of {@code java -jar runtime.jar gpus} and of the
 * GPU monitor, in terms the server may use (it never imports the binding).
 *
 * <p>Nothing here fails for lack of a GPU: a missing source is a line in the report and one log line per process,
 * and the rest still works.
 */
public final class GpuReport {
    private static final System.Logger LOG = System.getLogger("gantry.gpu");
    private static final Set<String> LOGGED = ConcurrentHashMap.newKeySet();

    private final GpuInventory inventory;
    private final Map<Integer, GpuSample> samples;
    private final boolean sampled;

    private GpuReport(GpuInventory inventory, Map<Integer, GpuSample> samples, boolean sampled) {
        this.inventory = inventory;
        this.samples = Map.copyOf(samples);
        this.sampled = sampled;
    }

    /**
     * Discovers the GPUs: initialises llama.cpp (as the server does; a no-op when it already is) to list its backend
     * devices, reads the CUDA topology (once per process) and opens NVML for one reading, then closes it.
     *
     * @param llamaLib a folder of llama.cpp libraries ({@code --llama-lib}, {@code GANTRY_LLAMA_LIB}), else the
     *                 bundled ones
     * @param cacheDir where the bundled libraries are unpacked ({@code GANTRY_CACHE_DIR})
     */
    public static GpuReport collect(Optional<Path> llamaLib, Path cacheDir) {
        Probe<List<BackendDevice>> llama;
        try {
            llama = Probe.found(LlamaCpp.initialize(llamaLib, cacheDir).devices());
        } catch (RuntimeException e) {
            llama = Probe.unavailable(e);
        }
        return collect(llama, CudaTopology.probe(), Nvml.open(),
                Optional.ofNullable(System.getenv("CUDA_VISIBLE_DEVICES")), InstantSource.system());
    }

    /** {@link #collect(Optional, Path)} from given sources; closes the telemetry before it returns. */
    static GpuReport collect(Probe<List<BackendDevice>> llama, Probe<CudaTopology> cuda,
                             Probe<? extends GpuTelemetry> telemetry, Optional<String> cudaVisibleDevices,
                             InstantSource clock) {
        try {
            GpuInventory inventory = GpuDiscovery.merge(llama, cuda, telemetry.map(GpuTelemetry::devices),
                    cudaVisibleDevices);
            Map<Integer, GpuSample> samples = new LinkedHashMap<>();
            telemetry.value().ifPresent(t -> {
                for (GpuInfo g : inventory.gpus()) {
                    device(t, g).ifPresent(d -> {
                        try {
                            samples.put(g.index(), GpuSample.of(g.index(), t.sample(d), clock.instant()));
                        } catch (RuntimeException e) {
                            logOnce(System.Logger.Level.WARNING, "GPU " + g.index() + ": telemetry failed ("
                                    + e.getMessage() + ")");
                        }
                    });
                }
            });
            if (!llama.isAvailable()) {
                logOnce(System.Logger.Level.WARNING, "llama.cpp: unavailable (" + llama.reason() + ")");
            }
            inventory.notes().forEach(n -> logOnce(n.level(), n.text()));
            if (inventory.gpus().isEmpty()) {
                logOnce(System.Logger.Level.INFO, "no GPU found: models run on the CPU");
            }
            return new GpuReport(inventory, samples, telemetry.isAvailable());
        } finally {
            telemetry.value().ifPresent(GpuTelemetry::close);
        }
    }

    /** The text of {@code java -jar runtime.jar gpus}. */
    public String render() {
        return GpuTable.render(inventory, sampled ? Optional.of(samples) : Optional.empty());
    }

    /**
     * The GPUs a {@code --gpus} list names ({@code ["0", "1"]}, as the server splits it), in its order; an empty
     * list keeps them all.
     *
     * @throws IllegalArgumentException for an unknown id, with the visible GPUs in the message
     */
    public GpuReport select(List<String> ids) {
        return narrowed(inventory.select(ids));
    }

    /**
     * {@link #select} for ids already parsed, e.g. the server's {@code --gpus 0,1:2,3} groups flattened:
     * {@code report.selectIndexes(config.gpus().stream().flatMap(List::stream).toList())}.
     */
    public GpuReport selectIndexes(List<Integer> indexes) {
        return narrowed(inventory.selectIndexes(indexes));
    }

    private GpuReport narrowed(GpuInventory chosen) {
        Map<Integer, GpuSample> kept = new LinkedHashMap<>();
        chosen.indexes().forEach(i -> Optional.ofNullable(samples.get(i)).ifPresent(s -> kept.put(i, s)));
        return new GpuReport(chosen, kept, sampled);
    }

    /**
     * Starts sampling this report's GPUs every {@code period} ({@link GpuMonitor#DEFAULT_PERIOD} is one second)
     * through a fresh NVML session, which the monitor owns. Without NVML, or without a GPU NVML knows, the monitor
     * is disabled and its snapshot says why.
     */
    public GpuMonitor startMonitor(Duration period) {
        return startMonitor(Nvml::open, period);
    }

    GpuMonitor startMonitor(Supplier<? extends Probe<? extends GpuTelemetry>> opener, Duration period) {
        if (inventory.gpus().isEmpty()) {
            return GpuMonitor.disabled("no GPU");
        }
        if (inventory.gpus().stream().noneMatch(g -> g.nvmlIndex() >= 0)) {
            return GpuMonitor.disabled(inventory.source(GpuDiscovery.NVML).filter(s -> !s.available())
                    .map(GpuSource::toString).orElse("NVML knows none of the GPUs"));
        }
        Probe<? extends GpuTelemetry> telemetry = opener.get();
        if (!telemetry.isAvailable()) {
            return GpuMonitor.disabled(GpuDiscovery.NVML + ": unavailable (" + telemetry.reason() + ")");
        }
        GpuTelemetry t = telemetry.get();
        Map<Integer, NvmlDevice> targets = new LinkedHashMap<>();
        for (GpuInfo g : inventory.gpus()) {
            device(t, g).ifPresent(d -> targets.put(g.index(), d));
        }
        if (targets.isEmpty()) {
            t.close();
            return GpuMonitor.disabled("NVML no longer lists the GPUs found at start");
        }
        return GpuMonitor.start(t, targets, period);
    }

    /** What was found; for the runtime's placement and router (the server must not import the binding's types). */
    public GpuInventory inventory() {
        return inventory;
    }

    /** The reading taken by {@link #collect}, by GPU index; empty without NVML. */
    public Map<Integer, GpuSample> samples() {
        return samples;
    }

    /** The GPUs' indexes ({@code --gpus} ids), in order. */
    public List<Integer> gpuIndexes() {
        return inventory.indexes();
    }

    public boolean hasGpu() {
        return !inventory.gpus().isEmpty();
    }

    @Override
    public String toString() {
        return render();
    }

    /** The telemetry's device for {@code gpu}, matched by PCI bus id as the merge did (NVML's order is its own). */
    private static Optional<NvmlDevice> device(GpuTelemetry telemetry, GpuInfo gpu) {
        if (gpu.nvmlIndex() < 0 || gpu.pciBusId().isEmpty()) {
            return Optional.empty();
        }
        return telemetry.devices().stream().filter(d -> d.pciBusId().equals(gpu.pciBusId())).findFirst();
    }

    private static void logOnce(System.Logger.Level level, String message) {
        if (LOGGED.add(message)) {
            LOG.log(level, message);
        }
    }
}
