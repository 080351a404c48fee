package dev.gantry.llama.gpu;

import static dev.gantry.llama.gpu.NvmlLibrary.ERROR_NOT_SUPPORTED;
import static dev.gantry.llama.gpu.NvmlLibrary.ERROR_NO_PERMISSION;
import static dev.gantry.llama.gpu.NvmlLibrary.SUCCESS;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * NVML ({@code libnvidia-ml.so.1}) through FFM: the GPUs of the host with their PCI bus ids, and their utilisation,
 * memory, temperature and power on demand.
 *
 * <p>An instance is one {@code nvmlInit_v2}/{@code nvmlShutdown} pair (NVML counts them, so several may be open).
 * Its owner closes it. {@link #devices} is safe from any thread; {@link #sample} is too (NVML is thread-safe), but
 * {@link #close} must come after the last sample, since it invalidates the device handles.
 *
 * <p>Without NVML (no NVIDIA driver, a container without the library) {@link #open} is unavailable with the reason,
 * logged once per process; nothing else in Gantry depends on it.
 */
public final class Nvml implements GpuTelemetry {
    private static final System.Logger LOG = System.getLogger("gantry.gpu");
    private static final AtomicBoolean REPORTED = new AtomicBoolean();

    private final NvmlLibrary lib;
    private final String driverVersion;
    private final List<NvmlDevice> devices;
    private final Map<Integer, MemorySegment> handles;
    private final AtomicBoolean closed = new AtomicBoolean();

    private Nvml(NvmlLibrary lib, String driverVersion, List<NvmlDevice> devices, Map<Integer, MemorySegment> handles) {
        this.lib = lib;
        this.driverVersion = driverVersion;
        this.devices = List.copyOf(devices);
        this.handles = Map.copyOf(handles);
    }

    /**
     * Loads the system's NVML (once per process) and initialises it. Unavailable, with the reason, when the library
     * is missing, lacks a function Gantry needs, or {@code nvmlInit_v2} fails (e.g. {@code Driver Not Loaded}).
     */
    public static Probe<Nvml> open() {
        Probe<NvmlLibrary> lib = NvmlLibrary.system();
        Probe<Nvml> nvml = lib.isAvailable() ? open(lib.get())
                : Probe.unavailable(lib.reason(), lib.cause().orElse(null));
        if (!nvml.isAvailable() && REPORTED.compareAndSet(false, true)) {
            LOG.log(System.Logger.Level.INFO, "NVML: unavailable ({0}); GPU utilisation, temperature and power "
                    + "will not be reported{1}", nvml.reason(), nvml.cause().map(c -> " [" + c.getMessage() + "]")
                    .orElse(""));
        }
        return nvml;
    }

    /** Initialises NVML through {@code lib} and lists its devices; a device NVML cannot open is left out. */
    static Probe<Nvml> open(NvmlLibrary lib) {
        int rc = lib.init();
        if (rc != SUCCESS) {
            NvmlException e = new NvmlException("nvmlInit_v2", rc, lib.errorString(rc));
            return Probe.unavailable("nvmlInit_v2: " + lib.errorString(rc), e);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment count = arena.allocate(JAVA_INT);
            check("nvmlDeviceGetCount_v2", lib.deviceCount(count), lib);
            int n = count.get(JAVA_INT, 0);
            List<NvmlDevice> devices = new ArrayList<>(n);
            Map<Integer, MemorySegment> handles = new HashMap<>();
            for (int i = 0; i < n; i++) {
                MemorySegment slot = arena.allocate(ADDRESS);
                rc = lib.handleByIndex(i, slot);
                if (rc != SUCCESS) {
                    // e.g. NO_PERMISSION for a GPU outside this container's cgroup: the others are still usable
                    LOG.log(System.Logger.Level.WARNING, "NVML: GPU {0} left out: nvmlDeviceGetHandleByIndex_v2: "
                            + "{1}", i, lib.errorString(rc));
                    continue;
                }
                // the handle is NVML's pointer, valid until nvmlShutdown; it does not belong to this arena
                MemorySegment handle = slot.get(ADDRESS, 0);
                devices.add(describe(lib, arena, i, handle));
                handles.put(i, handle);
            }
            MemorySegment version = arena.allocate(NvmlLibrary.DRIVER_VERSION_BUFFER);
            String driver = lib.driverVersion(version) == SUCCESS ? NvmlLibrary.string(version) : "";
            return Probe.found(new Nvml(lib, driver, devices, handles));
        } catch (RuntimeException e) {
            lib.shutdown();
            return Probe.unavailable(e);
        }
    }

    private static NvmlDevice describe(NvmlLibrary lib, Arena arena, int index, MemorySegment handle) {
        MemorySegment name = arena.allocate(NvmlLibrary.NAME_BUFFER);
        MemorySegment uuid = arena.allocate(NvmlLibrary.UUID_BUFFER);
        MemorySegment pci = arena.allocate(NvmlLibrary.PCI_INFO);
        String n = lib.name(handle, name) == SUCCESS ? NvmlLibrary.string(name) : "";
        String u = lib.uuid(handle, uuid) == SUCCESS ? NvmlLibrary.string(uuid) : "";
        String bus = "";
        int rc = lib.pciInfo(handle, pci);
        if (rc == SUCCESS) {
            // the text has the PCI function too; the numbers are the fallback if the text is not a bus id
            bus = PciBusId.parse(NvmlLibrary.string(pci.asSlice(NvmlLibrary.PCI_BUS_ID, NvmlLibrary.PCI_BUS_ID_SIZE)))
                    .orElseGet(() -> PciBusId.of(pci.get(JAVA_INT, NvmlLibrary.PCI_DOMAIN),
                            pci.get(JAVA_INT, NvmlLibrary.PCI_BUS), pci.get(JAVA_INT, NvmlLibrary.PCI_DEVICE), 0));
        } else {
            LOG.log(System.Logger.Level.WARNING, "NVML: GPU {0} has no PCI bus id ({1}): it cannot be matched to "
                    + "a CUDA device", index, lib.errorString(rc));
        }
        return new NvmlDevice(index, n.isEmpty() ? "GPU " + index : n, u, bus);
    }

    /** The driver's version, e.g. {@code 580.159.04}; empty when NVML would not tell. */
    public String driverVersion() {
        return driverVersion;
    }

    /** Where the library was loaded from. */
    public String origin() {
        return lib.origin();
    }

    @Override
    public List<NvmlDevice> devices() {
        return devices;
    }

    /**
     * Reads utilisation, memory, temperature and power of one of {@link #devices}. A figure the GPU does not report
     * ({@code NOT_SUPPORTED}, or {@code NO_PERMISSION} for that one query) is unknown in the result.
     *
     * @throws NvmlException         when a query fails otherwise (e.g. {@code GPU_IS_LOST})
     * @throws IllegalArgumentException when the device is not one of this instance's
     * @throws IllegalStateException after {@link #close}
     */
    @Override
    public NvmlSample sample(NvmlDevice device) {
        MemorySegment handle = handles.get(device.index());
        if (handle == null) {
            throw new IllegalArgumentException("NVML has no GPU " + device.index() + "; it has " + devices);
        }
        if (closed.get()) {
            throw new IllegalStateException("NVML is closed");
        }
        try (Arena arena = Arena.ofConfined()) {
            int gpu = -1;
            int memory = -1;
            MemorySegment rates = arena.allocate(NvmlLibrary.UTILIZATION);
            if (known("nvmlDeviceGetUtilizationRates", lib.utilization(handle, rates))) {
                gpu = rates.get(JAVA_INT, NvmlLibrary.UTIL_GPU);
                memory = rates.get(JAVA_INT, NvmlLibrary.UTIL_MEMORY);
            }
            long total = -1;
            long used = -1;
            MemorySegment mem = arena.allocate(NvmlLibrary.MEMORY);
            if (known("nvmlDeviceGetMemoryInfo", lib.memoryInfo(handle, mem))) {
                total = mem.get(JAVA_LONG, NvmlLibrary.MEMORY_TOTAL);
                used = mem.get(JAVA_LONG, NvmlLibrary.MEMORY_USED);
            }
            int celsius = -1;
            MemorySegment temperature = arena.allocate(JAVA_INT);
            if (known("nvmlDeviceGetTemperature", lib.temperature(handle, temperature))) {
                celsius = temperature.get(JAVA_INT, 0);
            }
            double watts = Double.NaN;
            MemorySegment power = arena.allocate(JAVA_INT);
            if (known("nvmlDeviceGetPowerUsage", lib.powerUsage(handle, power))) {
                watts = Integer.toUnsignedLong(power.get(JAVA_INT, 0)) / 1000.0;
            }
            return new NvmlSample(gpu, memory, used, total, celsius, watts);
        }
    }

    /** Calls {@code nvmlShutdown} once; later calls do nothing. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            int rc = lib.shutdown();
            if (rc != SUCCESS) {
                LOG.log(System.Logger.Level.DEBUG, "nvmlShutdown: {0}", lib.errorString(rc));
            }
        }
    }

    @Override
    public String toString() {
        return "NVML " + driverVersion + " from " + lib.origin() + ": " + devices;
    }

    private boolean known(String function, int rc) {
        if (rc == SUCCESS) {
            return true;
        }
        if (rc == ERROR_NOT_SUPPORTED || rc == ERROR_NO_PERMISSION) {
            return false;
        }
        throw new NvmlException(function, rc, lib.errorString(rc));
    }

    private static void check(String function, int rc, NvmlLibrary lib) {
        if (rc != SUCCESS) {
            throw new NvmlException(function, rc, lib.errorString(rc));
        }
    }
}
