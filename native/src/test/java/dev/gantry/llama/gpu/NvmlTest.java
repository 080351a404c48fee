package dev.gantry.llama.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The NVML binding over fake C functions (see {@link FakeNvmlLibrary}), and its unavailable paths on this host. */
class NvmlTest {
    private static final long GIB = 1L << 30;

    private Arena arena;
    private FakeNvmlLibrary fake;

    @BeforeEach
    void fake() {
        arena = Arena.ofShared(); // shared: lifecycle methods and the test may run on different threads
        fake = new FakeNvmlLibrary(arena, List.of(
                new FakeNvmlLibrary.Gpu("NVIDIA H100 80GB HBM3", "GPU-0a1b", "00000000:3B:00.0", 0, 0x3b, 0,
                        37, 12, 80 * GIB, 3 * GIB, 41, 123_456),
                new FakeNvmlLibrary.Gpu("NVIDIA H100 80GB HBM3", "GPU-2c3d", "00000001:D8:1F.0", 1, 0xd8, 0x1f,
                        0, 0, 80 * GIB, GIB / 2, 29, 70_000)));
    }

    @AfterEach
    void close() {
        arena.close();
    }

    @Test
    void structLayoutsHaveTheSizesOfNvmlH() {
        assertEquals(68, NvmlLibrary.PCI_INFO.byteSize());
        assertEquals(16, NvmlLibrary.PCI_DOMAIN);
        assertEquals(20, NvmlLibrary.PCI_BUS);
        assertEquals(24, NvmlLibrary.PCI_DEVICE);
        assertEquals(36, NvmlLibrary.PCI_BUS_ID);
        assertEquals(8, NvmlLibrary.UTILIZATION.byteSize());
        assertEquals(24, NvmlLibrary.MEMORY.byteSize());
        assertEquals(16, NvmlLibrary.MEMORY_USED);
    }

    @Test
    void listsDevicesWithNormalisedBusIds() {
        try (Nvml nvml = Nvml.open(fake.bind()).get()) {
            assertEquals(List.of(
                    new NvmlDevice(0, "NVIDIA H100 80GB HBM3", "GPU-0a1b", "0000:3b:00.0"),
                    new NvmlDevice(1, "NVIDIA H100 80GB HBM3", "GPU-2c3d", "0001:d8:1f.0")), nvml.devices());
            assertEquals("580.159.04", nvml.driverVersion());
            assertEquals(1, fake.inits);
        }
        assertEquals(1, fake.shutdowns);
    }

    @Test
    void busIdFallsBackToTheNumbersWhenTheTextIsNotOne() {
        FakeNvmlLibrary odd = new FakeNvmlLibrary(arena, List.of(new FakeNvmlLibrary.Gpu("GPU", "GPU-1", "garbage",
                0, 0x18, 0, 0, 0, GIB, 0, 30, 1000)));
        try (Nvml nvml = Nvml.open(odd.bind()).get()) {
            assertEquals("0000:18:00.0", nvml.devices().getFirst().pciBusId());
        }
    }

    @Test
    void samplesEveryFigure() {
        try (Nvml nvml = Nvml.open(fake.bind()).get()) {
            NvmlSample s = nvml.sample(nvml.devices().getFirst());
            assertEquals(new NvmlSample(37, 12, 3 * GIB, 80 * GIB, 41, 123.456), s);
            assertEquals(77 * GIB, s.memoryFreeBytes());
            assertEquals(0, fake.lastSensor, "NVML_TEMPERATURE_GPU");
            assertEquals(29, nvml.sample(nvml.devices().get(1)).temperatureCelsius());
        }
    }

    @Test
    void anUnsupportedFigureIsUnknownNotAFailure() {
        fake.failing.put("power", FakeNvmlLibrary.NOT_SUPPORTED);
        fake.failing.put("utilization", FakeNvmlLibrary.NO_PERMISSION);
        try (Nvml nvml = Nvml.open(fake.bind()).get()) {
            NvmlSample s = nvml.sample(nvml.devices().getFirst());
            assertTrue(Double.isNaN(s.powerWatts()));
            assertEquals(-1, s.utilizationPercent());
            assertEquals(-1, s.memoryUtilizationPercent());
            assertEquals(41, s.temperatureCelsius());
            assertEquals(3 * GIB, s.memoryUsedBytes());
        }
    }

    @Test
    void aMissingOptionalFunctionIsAnUnknownFigure() {
        fake.missing.add("nvmlDeviceGetPowerUsage");
        fake.missing.add("nvmlSystemGetDriverVersion");
        try (Nvml nvml = Nvml.open(fake.bind()).get()) {
            assertTrue(Double.isNaN(nvml.sample(nvml.devices().getFirst()).powerWatts()));
            assertEquals("", nvml.driverVersion());
        }
    }

    @Test
    void aMissingRequiredFunctionMakesNvmlUnavailable() {
        fake.missing.add("nvmlDeviceGetPciInfo_v3");
        GpuUnavailableException e = assertThrows(GpuUnavailableException.class, fake::bind);
        assertTrue(e.getMessage().contains("nvmlDeviceGetPciInfo_v3"), e.getMessage());
    }

    @Test
    void aFailedQueryThrowsNamingTheFunction() {
        fake.failing.put("memory", FakeNvmlLibrary.GPU_IS_LOST);
        try (Nvml nvml = Nvml.open(fake.bind()).get()) {
            NvmlException e = assertThrows(NvmlException.class, () -> nvml.sample(nvml.devices().getFirst()));
            assertEquals("nvmlDeviceGetMemoryInfo", e.function());
            assertEquals(FakeNvmlLibrary.GPU_IS_LOST, e.code());
            assertTrue(e.getMessage().contains("GPU is lost"), e.getMessage());
        }
    }

    @Test
    void aFailedInitIsUnavailableWithNvmlsWords() {
        fake.initResult = FakeNvmlLibrary.DRIVER_NOT_LOADED;
        Probe<Nvml> nvml = Nvml.open(fake.bind());
        assertFalse(nvml.isAvailable());
        assertEquals("nvmlInit_v2: Driver Not Loaded", nvml.reason());
        assertEquals(0, fake.shutdowns, "no shutdown for an init that failed");
    }

    @Test
    void aFailedDeviceCountShutsNvmlDownAgain() {
        fake.failing.put("count", FakeNvmlLibrary.DRIVER_NOT_LOADED);
        Probe<Nvml> nvml = Nvml.open(fake.bind());
        assertFalse(nvml.isAvailable());
        assertTrue(nvml.reason().contains("nvmlDeviceGetCount_v2"), nvml.reason());
        assertEquals(1, fake.shutdowns);
    }

    @Test
    void aGpuNvmlCannotOpenIsLeftOut() {
        fake.unopenable.add(0);
        try (Nvml nvml = Nvml.open(fake.bind()).get()) {
            assertEquals(List.of(1), nvml.devices().stream().map(NvmlDevice::index).toList());
            assertThrows(IllegalArgumentException.class,
                    () -> nvml.sample(new NvmlDevice(0, "x", "", "0000:3b:00.0")));
        }
    }

    @Test
    void closeShutsDownOnceAndSamplingAfterItFails() {
        Nvml nvml = Nvml.open(fake.bind()).get();
        NvmlDevice first = nvml.devices().getFirst();
        nvml.close();
        nvml.close();
        assertEquals(1, fake.shutdowns);
        assertThrows(IllegalStateException.class, () -> nvml.sample(first));
    }

    @Test
    void missingLibraryFilesAreReportedWithEveryPlaceTried() {
        Probe<NvmlLibrary> lib = NvmlLibrary.load(List.of("/nonexistent/libnvidia-ml.so.1",
                "libnvidia-ml-does-not-exist.so.1"));
        assertFalse(lib.isAvailable());
        assertEquals("libnvidia-ml.so.1: cannot open shared object file", lib.reason());
        String tried = lib.cause().orElseThrow().getMessage();
        assertTrue(tried.contains("/nonexistent/libnvidia-ml.so.1: no such file"), tried);
        assertTrue(tried.contains("libnvidia-ml-does-not-exist.so.1"), tried);
    }

    @Test
    void onAHostWithoutNvmlOpenIsUnavailableNamingTheLibrary() {
        assumeTrue(NativeProbes.nothingNamed("libnvidia-ml.so.1"), "this host has NVML");
        Probe<Nvml> nvml = Nvml.open();
        assertFalse(nvml.isAvailable());
        assertTrue(nvml.value().isEmpty());
        assertTrue(nvml.reason().contains("libnvidia-ml.so.1"), nvml.reason());
        assertTrue(Nvml.open().reason().equals(nvml.reason()), "the same answer on a second call");
    }

    /** Whether a host has a library, looked up without loading it. */
    static final class NativeProbes {
        private NativeProbes() {}

        static boolean nothingNamed(String library) {
            return Stream.of("/usr/lib", "/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu",
                            "/usr/local/nvidia/lib64", "/usr/local/cuda/compat")
                    .map(dir -> Path.of(dir, library)).noneMatch(Files::exists);
        }
    }
}
