package dev.gantry.llama.gpu;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The hand-written FFM binding of the part of NVML ({@code nvml.h}) Gantry reads: one downcall handle per function
 * and the three structs. Immutable and thread-safe (NVML itself is thread-safe). Used through {@link Nvml}; tests
 * build one over fake functions with {@link #NvmlLibrary(SymbolLookup, String)}.
 *
 * <p>The functions that only read figures for the monitor are optional: a driver that lacks one (an old or a future
 * NVML) makes that figure unknown instead of making NVML unavailable.
 */
final class NvmlLibrary {
    static final String SONAME = "libnvidia-ml.so.1";
    /** The loader's search path first, then where the NVIDIA driver packages put the library. */
    static final List<String> CANDIDATES =
            List.of(SONAME, "/usr/lib/" + SONAME, "/usr/lib/x86_64-linux-gnu/" + SONAME);

    // nvmlReturn_t values told apart
    static final int SUCCESS = 0;
    static final int ERROR_NOT_SUPPORTED = 3;
    static final int ERROR_NO_PERMISSION = 4;

    static final int NAME_BUFFER = 96; // NVML_DEVICE_NAME_V2_BUFFER_SIZE
    static final int UUID_BUFFER = 96; // NVML_DEVICE_UUID_V2_BUFFER_SIZE
    static final int DRIVER_VERSION_BUFFER = 80; // NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE
    static final int TEMPERATURE_GPU = 0; // NVML_TEMPERATURE_GPU

    /** {@code nvmlPciInfo_t} as {@code nvmlDeviceGetPciInfo_v3} fills it: 68 bytes. */
    static final StructLayout PCI_INFO = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(16, JAVA_BYTE).withName("busIdLegacy"),
            JAVA_INT.withName("domain"),
            JAVA_INT.withName("bus"),
            JAVA_INT.withName("device"),
            JAVA_INT.withName("pciDeviceId"),
            JAVA_INT.withName("pciSubSystemId"),
            MemoryLayout.sequenceLayout(32, JAVA_BYTE).withName("busId"));
    /** {@code nvmlUtilization_t}. */
    static final StructLayout UTILIZATION =
            MemoryLayout.structLayout(JAVA_INT.withName("gpu"), JAVA_INT.withName("memory"));
    /** {@code nvmlMemory_t} (version 1). */
    static final StructLayout MEMORY =
            MemoryLayout.structLayout(JAVA_LONG.withName("total"), JAVA_LONG.withName("free"), JAVA_LONG.withName("used"));

    static final long PCI_DOMAIN = offset(PCI_INFO, "domain");
    static final long PCI_BUS = offset(PCI_INFO, "bus");
    static final long PCI_DEVICE = offset(PCI_INFO, "device");
    static final long PCI_BUS_ID = offset(PCI_INFO, "busId");
    static final long PCI_BUS_ID_SIZE = 32;
    static final long UTIL_GPU = offset(UTILIZATION, "gpu");
    static final long UTIL_MEMORY = offset(UTILIZATION, "memory");
    static final long MEMORY_TOTAL = offset(MEMORY, "total");
    static final long MEMORY_USED = offset(MEMORY, "used");

    private static Probe<NvmlLibrary> system;

    private final String origin;
    private final MethodHandle init;
    private final MethodHandle shutdown;
    private final MethodHandle errorString;
    private final MethodHandle deviceCount;
    private final MethodHandle handleByIndex;
    private final MethodHandle name;
    private final MethodHandle uuid;
    private final MethodHandle pciInfo;
    // optional: null when the library lacks them
    private final MethodHandle driverVersion;
    private final MethodHandle utilization;
    private final MethodHandle memoryInfo;
    private final MethodHandle temperature;
    private final MethodHandle powerUsage;

    /**
     * Binds every function from {@code lookup}.
     *
     * @param origin where the library came from, for messages
     * @throws GpuUnavailableException when a function Gantry cannot do without is missing
     */
    NvmlLibrary(SymbolLookup lookup, String origin) {
        this.origin = origin;
        Linker linker = Linker.nativeLinker();
        Binder required = (n, fd) -> linker.downcallHandle(lookup.find(n).orElseThrow(() ->
                new GpuUnavailableException(origin + " has no " + n + " (an NVIDIA driver older than R450?)")), fd);
        Binder optional = (n, fd) -> lookup.find(n).map(a -> linker.downcallHandle(a, fd)).orElse(null);
        init = required.bind("nvmlInit_v2", FunctionDescriptor.of(JAVA_INT));
        shutdown = required.bind("nvmlShutdown", FunctionDescriptor.of(JAVA_INT));
        errorString = required.bind("nvmlErrorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        deviceCount = required.bind("nvmlDeviceGetCount_v2", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        handleByIndex = required.bind("nvmlDeviceGetHandleByIndex_v2",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        name = required.bind("nvmlDeviceGetName", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        uuid = required.bind("nvmlDeviceGetUUID", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        pciInfo = required.bind("nvmlDeviceGetPciInfo_v3", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        driverVersion = optional.bind("nvmlSystemGetDriverVersion",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        utilization = optional.bind("nvmlDeviceGetUtilizationRates",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        memoryInfo = optional.bind("nvmlDeviceGetMemoryInfo", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        temperature = optional.bind("nvmlDeviceGetTemperature",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        powerUsage = optional.bind("nvmlDeviceGetPowerUsage", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    }

    @FunctionalInterface
    private interface Binder {
        MethodHandle bind(String name, FunctionDescriptor fd);
    }

    /**
     * The system's NVML, loaded once per process: a library that failed to load will not appear later, and the
     * global arena keeps it loaded for as long as the handles that point into it exist.
     */
    static synchronized Probe<NvmlLibrary> system() {
        if (system == null) {
            system = load(CANDIDATES);
        }
        return system;
    }

    /** Opens the first of {@code candidates} that loads; every failure goes into the cause. */
    static Probe<NvmlLibrary> load(List<String> candidates) {
        List<String> tried = new ArrayList<>();
        for (String candidate : candidates) {
            boolean bare = !candidate.contains("/");
            if (!bare && !Files.exists(Path.of(candidate))) {
                tried.add(candidate + ": no such file");
                continue;
            }
            SymbolLookup lookup;
            try {
                lookup = bare ? SymbolLookup.libraryLookup(candidate, Arena.global())
                        : SymbolLookup.libraryLookup(Path.of(candidate), Arena.global());
            } catch (IllegalArgumentException | IllegalCallerException e) {
                tried.add(candidate + ": " + e.getMessage());
                continue;
            }
            try {
                return Probe.found(new NvmlLibrary(lookup, candidate));
            } catch (GpuUnavailableException e) {
                return Probe.unavailable(e);
            }
        }
        // dlopen's own words for the name everything else uses; the cause lists every place tried
        return Probe.unavailable(SONAME + ": cannot open shared object file",
                new GpuUnavailableException("NVML not found; tried " + String.join("; ", tried)));
    }

    String origin() {
        return origin;
    }

    int init() {
        try {
            return (int) init.invokeExact();
        } catch (Throwable t) {
            throw failed("nvmlInit_v2", t);
        }
    }

    int shutdown() {
        try {
            return (int) shutdown.invokeExact();
        } catch (Throwable t) {
            throw failed("nvmlShutdown", t);
        }
    }

    /** NVML's text for a return code, e.g. {@code Not Supported}. */
    String errorString(int code) {
        try {
            MemorySegment text = (MemorySegment) errorString.invokeExact(code);
            return text.equals(MemorySegment.NULL) ? "NVML error " + code
                    : text.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw failed("nvmlErrorString", t);
        }
    }

    int deviceCount(MemorySegment count) {
        try {
            return (int) deviceCount.invokeExact(count);
        } catch (Throwable t) {
            throw failed("nvmlDeviceGetCount_v2", t);
        }
    }

    int handleByIndex(int index, MemorySegment device) {
        try {
            return (int) handleByIndex.invokeExact(index, device);
        } catch (Throwable t) {
            throw failed("nvmlDeviceGetHandleByIndex_v2", t);
        }
    }

    int name(MemorySegment device, MemorySegment buffer) {
        try {
            return (int) name.invokeExact(device, buffer, (int) buffer.byteSize());
        } catch (Throwable t) {
            throw failed("nvmlDeviceGetName", t);
        }
    }

    int uuid(MemorySegment device, MemorySegment buffer) {
        try {
            return (int) uuid.invokeExact(device, buffer, (int) buffer.byteSize());
        } catch (Throwable t) {
            throw failed("nvmlDeviceGetUUID", t);
        }
    }

    int pciInfo(MemorySegment device, MemorySegment info) {
        try {
            return (int) pciInfo.invokeExact(device, info);
        } catch (Throwable t) {
            throw failed("nvmlDeviceGetPciInfo_v3", t);
        }
    }

    // The optional functions answer NOT_SUPPORTED when missing: to a caller, a figure is unknown either way.

    int driverVersion(MemorySegment buffer) {
        if (driverVersion == null) {
            return ERROR_NOT_SUPPORTED;
        }
        try {
            return (int) driverVersion.invokeExact(buffer, (int) buffer.byteSize());
        } catch (Throwable t) {
            throw failed("nvmlSystemGetDriverVersion", t);
        }
    }

    int utilization(MemorySegment device, MemorySegment rates) {
        if (utilization == null) {
            return ERROR_NOT_SUPPORTED;
        }
        try {
            return (int) utilization.invokeExact(device, rates);
        } catch (Throwable t) {
            throw failed("nvmlDeviceGetUtilizationRates", t);
        }
    }

    int memoryInfo(MemorySegment device, MemorySegment memory) {
        if (memoryInfo == null) {
            return ERROR_NOT_SUPPORTED;
        }
        try {
            return (int) memoryInfo.invokeExact(device, memory);
        } catch (Throwable t) {
            throw failed("nvmlDeviceGetMemoryInfo", t);
        }
    }

    int temperature(MemorySegment device, MemorySegment celsius) {
        if (temperature == null) {
            return ERROR_NOT_SUPPORTED;
        }
        try {
            return (int) temperature.invokeExact(device, TEMPERATURE_GPU, celsius);
        } catch (Throwable t) {
            throw failed("nvmlDeviceGetTemperature", t);
        }
    }

    int powerUsage(MemorySegment device, MemorySegment milliwatts) {
        if (powerUsage == null) {
            return ERROR_NOT_SUPPORTED;
        }
        try {
            return (int) powerUsage.invokeExact(device, milliwatts);
        } catch (Throwable t) {
            throw failed("nvmlDeviceGetPowerUsage", t);
        }
    }

    /** Reads a NUL-terminated string NVML wrote into {@code buffer}, even if it left no terminator. */
    static String string(MemorySegment buffer) {
        buffer.set(JAVA_BYTE, buffer.byteSize() - 1, (byte) 0);
        return buffer.getString(0).strip();
    }

    private static long offset(StructLayout layout, String field) {
        return layout.byteOffset(groupElement(field));
    }

    private static RuntimeException failed(String function, Throwable t) {
        if (t instanceof Error e) {
            throw e;
        }
        return t instanceof RuntimeException r ? r : new IllegalStateException(function + " failed: " + t, t);
    }
}
