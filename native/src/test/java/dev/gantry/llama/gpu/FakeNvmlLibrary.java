package dev.gantry.llama.gpu;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * NVML's C functions played by Java upcalls, so {@link NvmlLibrary}'s real downcalls, struct layouts and string
 * handling run without a GPU. The fake writes structs at the offsets of {@code nvml.h} (numbers written out here,
 * not taken from the binding), so a wrong layout in the binding reads wrong figures.
 *
 * <p>Upcalls run on the calling (test) thread. Nothing here may throw: an exception escaping an upcall ends the JVM.
 */
final class FakeNvmlLibrary {
    static final long HANDLE_BASE = 0x10000;
    static final int NOT_SUPPORTED = 3;
    static final int NO_PERMISSION = 4;
    static final int DRIVER_NOT_LOADED = 9;
    static final int GPU_IS_LOST = 15;

    /** One fake GPU; {@code busId} is written as NVML writes it. */
    record Gpu(String name, String uuid, String busId, int domain, int bus, int device, int utilization,
               int memoryUtilization, long total, long used, int celsius, int milliwatts) {}

    final List<Gpu> gpus;
    /** Function name to the code it returns instead of answering. */
    final Map<String, Integer> failing = new HashMap<>();
    final Set<String> missing = new HashSet<>();
    final Set<Integer> unopenable = new HashSet<>();
    int initResult;
    int inits;
    int shutdowns;
    int lastSensor = -1;

    private final Arena arena;
    private final Map<Integer, MemorySegment> errorTexts = new HashMap<>();

    FakeNvmlLibrary(Arena arena, List<Gpu> gpus) {
        this.arena = arena;
        this.gpus = gpus;
    }

    NvmlLibrary bind() {
        return new NvmlLibrary(lookup(), "fake libnvidia-ml");
    }

    SymbolLookup lookup() {
        Map<String, MemorySegment> stubs = new HashMap<>();
        stub(stubs, "nvmlInit_v2", "init", FunctionDescriptor.of(JAVA_INT));
        stub(stubs, "nvmlShutdown", "shutdown", FunctionDescriptor.of(JAVA_INT));
        stub(stubs, "nvmlErrorString", "errorString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        stub(stubs, "nvmlDeviceGetCount_v2", "count", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        stub(stubs, "nvmlDeviceGetHandleByIndex_v2", "handle", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        stub(stubs, "nvmlDeviceGetName", "name", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        stub(stubs, "nvmlDeviceGetUUID", "uuid", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        stub(stubs, "nvmlDeviceGetPciInfo_v3", "pci", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        stub(stubs, "nvmlSystemGetDriverVersion", "driver", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        stub(stubs, "nvmlDeviceGetUtilizationRates", "utilization", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        stub(stubs, "nvmlDeviceGetMemoryInfo", "memory", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        stub(stubs, "nvmlDeviceGetTemperature", "temperature",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS));
        stub(stubs, "nvmlDeviceGetPowerUsage", "power", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        return name -> missing.contains(name) ? Optional.empty() : Optional.ofNullable(stubs.get(name));
    }

    private void stub(Map<String, MemorySegment> stubs, String symbol, String method, FunctionDescriptor fd) {
        try {
            MethodType type = fd.toMethodType();
            var handle = MethodHandles.lookup().findVirtual(FakeNvmlLibrary.class, method, type).bindTo(this);
            stubs.put(symbol, Linker.nativeLinker().upcallStub(handle, fd, arena));
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    // the C functions

    int init() {
        inits++;
        return initResult;
    }

    int shutdown() {
        shutdowns++;
        return 0;
    }

    MemorySegment errorString(int code) {
        return errorTexts.computeIfAbsent(code, c -> arena.allocateFrom(switch (c) {
            case NOT_SUPPORTED -> "Not Supported";
            case NO_PERMISSION -> "Insufficient Permissions";
            case DRIVER_NOT_LOADED -> "Driver Not Loaded";
            case GPU_IS_LOST -> "GPU is lost";
            default -> "Unknown Error";
        }));
    }

    int count(MemorySegment out) {
        Integer rc = failing.get("count");
        if (rc != null) {
            return rc;
        }
        out.reinterpret(4).set(JAVA_INT, 0, gpus.size());
        return 0;
    }

    int handle(int index, MemorySegment out) {
        if (unopenable.contains(index) || index < 0 || index >= gpus.size()) {
            return NO_PERMISSION;
        }
        out.reinterpret(8).set(ADDRESS, 0, MemorySegment.ofAddress(HANDLE_BASE + 16L * index));
        return 0;
    }

    int name(MemorySegment device, MemorySegment buffer, int length) {
        return text(gpu(device).name(), buffer, length);
    }

    int uuid(MemorySegment device, MemorySegment buffer, int length) {
        return text(gpu(device).uuid(), buffer, length);
    }

    int pci(MemorySegment device, MemorySegment info) {
        Gpu g = gpu(device);
        MemorySegment s = info.reinterpret(68);
        s.setString(0, "legacy"); // busIdLegacy[16] at 0
        s.set(JAVA_INT, 16, g.domain());
        s.set(JAVA_INT, 20, g.bus());
        s.set(JAVA_INT, 24, g.device());
        s.set(JAVA_INT, 28, 0x233010de); // pciDeviceId
        s.set(JAVA_INT, 32, 0x16c110de); // pciSubSystemId
        s.setString(36, g.busId()); // busId[32] at 36
        return 0;
    }

    int driver(MemorySegment buffer, int length) {
        return text("580.159.04", buffer, length);
    }

    int utilization(MemorySegment device, MemorySegment out) {
        Integer rc = failing.get("utilization");
        if (rc != null) {
            return rc;
        }
        Gpu g = gpu(device);
        MemorySegment s = out.reinterpret(8);
        s.set(JAVA_INT, 0, g.utilization());
        s.set(JAVA_INT, 4, g.memoryUtilization());
        return 0;
    }

    int memory(MemorySegment device, MemorySegment out) {
        Integer rc = failing.get("memory");
        if (rc != null) {
            return rc;
        }
        Gpu g = gpu(device);
        MemorySegment s = out.reinterpret(24);
        s.set(JAVA_LONG, 0, g.total());
        s.set(JAVA_LONG, 8, g.total() - g.used());
        s.set(JAVA_LONG, 16, g.used());
        return 0;
    }

    int temperature(MemorySegment device, int sensor, MemorySegment out) {
        lastSensor = sensor;
        Integer rc = failing.get("temperature");
        if (rc != null) {
            return rc;
        }
        out.reinterpret(4).set(JAVA_INT, 0, gpu(device).celsius());
        return 0;
    }

    int power(MemorySegment device, MemorySegment out) {
        Integer rc = failing.get("power");
        if (rc != null) {
            return rc;
        }
        out.reinterpret(4).set(JAVA_INT, 0, gpu(device).milliwatts());
        return 0;
    }

    private Gpu gpu(MemorySegment device) {
        int index = (int) ((device.address() - HANDLE_BASE) / 16);
        return gpus.get(Math.clamp(index, 0, gpus.size() - 1));
    }

    private static int text(String s, MemorySegment buffer, int length) {
        byte[] bytes = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        if (bytes.length + 1 > length) {
            return 7; // NVML_ERROR_INSUFFICIENT_SIZE
        }
        buffer.reinterpret(length).setString(0, s);
        return 0;
    }
}
