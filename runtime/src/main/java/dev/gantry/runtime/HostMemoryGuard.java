package dev.gantry.runtime;

import dev.gantry.models.LocalModel;
import dev.gantry.models.footprint.FootprintEstimator;
import dev.gantry.models.footprint.KvCacheType;
import dev.gantry.models.footprint.ModelFootprint;
import dev.gantry.runtime.place.Placement;
import dev.gantry.runtime.place.ReplicaPlan;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Refuses, before llama.cpp touches it, a model whose replicas in host memory need more than the host has free:
 * its file (mapped whole), its KV cache and compute buffers, against {@code MemAvailable} and the cgroup's limit.
 * A load that would push the machine into swap or the OOM killer then fails as one clear error for that request,
 * and every other model keeps serving. Wraps another planner; thread-safe when it is.
 */
public final class HostMemoryGuard implements ReplicaPlanner {
    private final ReplicaPlanner inner;
    private final LongSupplier availableBytes;
    private final boolean noGpuBackend;

    /**
     * @param noGpuBackend  whether llama.cpp has no GPU backend, so that replicas it places itself run on the CPU
     * @param availableBytes host memory free for a new model now
     */
    public HostMemoryGuard(ReplicaPlanner inner, boolean noGpuBackend, LongSupplier availableBytes) {
        this.inner = inner;
        this.noGpuBackend = noGpuBackend;
        this.availableBytes = availableBytes;
    }

    /** Guarded by this host's free memory. */
    public static HostMemoryGuard of(ReplicaPlanner inner, boolean noGpuBackend) {
        return new HostMemoryGuard(inner, noGpuBackend, HostMemoryGuard::hostAvailableBytes);
    }

    @Override
    public Placement plan(LocalModel model, RuntimeConfig config) {
        return plan(model, config, java.util.Map.of());
    }

    @Override
    public boolean choosesSplitByMeasurement() {
        return inner.choosesSplitByMeasurement();
    }

    @Override
    public String gpuName(int gpu) {
        return inner.gpuName(gpu);
    }

    @Override
    public Placement plan(LocalModel model, RuntimeConfig config,
                          java.util.Map<dev.gantry.runtime.place.SplitMode, Double> measured) {
        Placement p = inner.plan(model, config, measured);
        long need = 0;
        for (ReplicaPlan r : p.replicas()) {
            if (r.gpus().isEmpty() && (r.gpuLayers() == 0 || noGpuBackend)) {
                need += hostBytes(model, config, r.sequences());
            }
        }
        if (need == 0) {
            return p;
        }
        long available = availableBytes.getAsLong();
        if (available >= 0 && need > available) {
            throw new ModelLoadException("model " + model.name().shortName() + " requires more system memory ("
                    + gib(need) + ") than is available (" + gib(available) + ")", null);
        }
        return p;
    }

    /** The file (mapped, so counted whole), the KV cache of every sequence, and compute buffers. */
    static long hostBytes(LocalModel model, RuntimeConfig config, int sequences) {
        long bytes = model.sizeBytes() + FootprintEstimator.adapterBytes(model);
        try {
            ModelFootprint f = FootprintEstimator.estimate(model.metadata());
            int ctx = RunnerSizing.contextPerSequence((int) model.metadata().contextLength().orElse(0), config);
            bytes += f.kvBytes(KvCacheType.F16, (long) ctx * sequences) + ModelFootprint.COMPUTE_OVERHEAD_BYTES;
        } catch (IllegalArgumentException e) {
            // a header the estimator cannot size: the file alone is the floor
        }
        return bytes;
    }

    /** {@code MemAvailable}, lowered to the room left under a cgroup v2 memory limit; -1 when unknown. */
    public static long hostAvailableBytes() {
        long available = meminfo("MemAvailable:");
        long cgroup = cgroupRoom();
        if (available < 0) {
            return cgroup;
        }
        return cgroup < 0 ? available : Math.min(available, cgroup);
    }

    private static long meminfo(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return -1;
    }

    private static long cgroupRoom() {
        try {
            String max = Files.readString(Path.of("/sys/fs/cgroup/memory.max")).strip();
            if (max.equals("max")) {
                return -1;
            }
            long current = Long.parseLong(Files.readString(Path.of("/sys/fs/cgroup/memory.current")).strip());
            return Math.max(0, Long.parseLong(max) - current);
        } catch (IOException | RuntimeException e) {
            return -1; // no cgroup v2 limit
        }
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }
}
