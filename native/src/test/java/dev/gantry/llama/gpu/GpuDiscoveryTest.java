package dev.gantry.llama.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.llama.BackendDevice;
import dev.gantry.llama.gpu.PeerAccess.Link;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The merge of llama.cpp, CUDA and NVML, and {@code --gpus}, over made-up hosts. */
class GpuDiscoveryTest {
    private static final long GIB = 1L << 30;
    private static final BackendDevice CPU =
            new BackendDevice(0, "CPU", "AMD EPYC", BackendDevice.Type.CPU, 0, 0);

    /** A 4-GPU host: NVML (PCI order) sees all four, whatever CUDA_VISIBLE_DEVICES says. */
    private static final List<NvmlDevice> NVML_ALL = List.of(
            new NvmlDevice(0, "NVIDIA H200", "GPU-a", "0000:18:00.0"),
            new NvmlDevice(1, "NVIDIA H200", "GPU-b", "0000:2a:00.0"),
            new NvmlDevice(2, "NVIDIA H200", "GPU-c", "0000:3b:00.0"),
            new NvmlDevice(3, "NVIDIA H200", "GPU-d", "0000:5d:00.0"));

    private static BackendDevice cuda(int registryIndex, int ordinal) {
        return new BackendDevice(registryIndex, "CUDA" + ordinal, "NVIDIA H200", BackendDevice.Type.GPU,
                (100 + ordinal) * GIB, 140 * GIB);
    }

    /** CUDA's view with devices on the given PCI buses, in ordinal order, all peers connected. */
    private static Probe<CudaTopology> cudaOn(int... buses) {
        FakeCudaDriver driver = new FakeCudaDriver(java.util.Arrays.stream(buses)
                .mapToObj(b -> FakeCudaDriver.h100(0, b)).toList());
        for (int i = 0; i < buses.length; i++) {
            for (int j = 0; j < buses.length; j++) {
                driver.connect(i, j);
            }
        }
        return Probe.found(CudaTopology.read(driver));
    }

    @Test
    void cudaAndNvmlAreMatchedByBusIdNotByPosition() {
        // CUDA_VISIBLE_DEVICES=3,1: CUDA 0 is NVML 3 and CUDA 1 is NVML 1
        GpuInventory inv = GpuDiscovery.merge(Probe.found(List.of(CPU, cuda(1, 0), cuda(2, 1))), cudaOn(0x5d, 0x2a),
                Probe.found(NVML_ALL), Optional.of("3,1"));
        assertEquals(List.of(0, 1), inv.indexes());
        GpuInfo first = inv.gpus().get(0);
        assertEquals(3, first.nvmlIndex());
        assertEquals("GPU-d", first.uuid());
        assertEquals("0000:5d:00.0", first.pciBusId());
        assertEquals(1, inv.gpus().get(1).nvmlIndex());
        assertEquals("CUDA0", first.backendName());
        assertEquals(1, first.backendIndex());
        assertEquals(0, first.cudaOrdinal());
        assertEquals(100 * GIB, first.freeBytes(), "free memory from llama.cpp");
        assertEquals(85_045_231_616L, first.totalBytes(), "total from the CUDA driver");
        assertEquals("9.0", first.computeCapability());
        assertEquals(132, first.smCount());
        assertEquals(3_352_320_000_000L, first.bandwidthBytesPerSecond());
        assertEquals(Link.OK, inv.peers().link(0, 1));
        assertEquals(Link.SELF, inv.peers().link(1, 1));
        assertTrue(inv.notes().stream().anyMatch(n -> n.text().startsWith(
                "NVML sees 2 GPU(s) the CUDA driver does not (CUDA_VISIBLE_DEVICES=3,1): 0 0000:18:00.0, "
                        + "2 0000:3b:00.0")), inv.notes().toString());
        assertEquals("CUDA driver: CUDA 13.0, 2 devices visible (CUDA_VISIBLE_DEVICES=3,1)",
                inv.source(GpuDiscovery.CUDA).orElseThrow().toString());
        assertEquals("llama.cpp: 2 GPUs: CUDA0, CUDA1", inv.source(GpuDiscovery.LLAMA).orElseThrow().toString());
        assertEquals("NVML: 4 GPUs", inv.source(GpuDiscovery.NVML).orElseThrow().toString());
    }

    @Test
    void aCpuBuildOfLlamaCppStillListsTheGpusAndWarns() {
        GpuInventory inv = GpuDiscovery.merge(Probe.found(List.of(CPU)), cudaOn(0x18, 0x2a), Probe.found(NVML_ALL),
                Optional.empty());
        assertEquals(List.of(0, 1), inv.indexes());
        assertFalse(inv.gpus().get(0).usableByLlama());
        assertEquals(-1, inv.gpus().get(0).freeBytes());
        GpuInventory.Note warning = inv.notes().stream().filter(n -> n.level() == System.Logger.Level.WARNING)
                .findFirst().orElseThrow();
        assertTrue(warning.text().startsWith("llama.cpp has no backend for CUDA GPU 0, 1"), warning.text());
        assertEquals("llama.cpp: no GPU backend (CPU only)", inv.source(GpuDiscovery.LLAMA).orElseThrow().toString());
    }

    @Test
    void withoutNvmlTheRestStillWorks() {
        GpuInventory inv = GpuDiscovery.merge(Probe.found(List.of(CPU, cuda(1, 0))), cudaOn(0x18),
                Probe.unavailable("libnvidia-ml.so.1: cannot open shared object file"), Optional.empty());
        GpuInfo gpu = inv.gpus().getFirst();
        assertEquals(-1, gpu.nvmlIndex());
        assertEquals("0000:18:00.0", gpu.pciBusId());
        assertEquals(132, gpu.smCount());
        assertEquals("NVML: unavailable (libnvidia-ml.so.1: cannot open shared object file)",
                inv.source(GpuDiscovery.NVML).orElseThrow().toString());
        assertTrue(inv.notes().isEmpty(), inv.notes().toString());
    }

    @Test
    void withoutTheCudaDriverLlamaCppsGpusRemainWithUnknownTopology() {
        GpuInventory inv = GpuDiscovery.merge(Probe.found(List.of(CPU, cuda(1, 0), cuda(2, 1))),
                Probe.unavailable("libcuda.so.1: cannot open shared object file"), Probe.found(NVML_ALL),
                Optional.empty());
        assertEquals(List.of(0, 1), inv.indexes());
        GpuInfo gpu = inv.gpus().getFirst();
        assertEquals("NVIDIA H200", gpu.name(), "llama.cpp's description");
        assertEquals(140 * GIB, gpu.totalBytes());
        assertEquals(-1, gpu.cudaOrdinal());
        assertEquals(-1, gpu.nvmlIndex(), "never matched by position");
        assertEquals("?", gpu.computeCapability());
        assertEquals(Link.UNKNOWN, inv.peers().link(0, 1));
        assertTrue(inv.notes().stream().anyMatch(n -> n.text().contains("cannot be matched by PCI bus id")));
    }

    @Test
    void nothingAtAllIsCpuOnlyWithEveryReason() {
        GpuInventory inv = GpuDiscovery.merge(Probe.found(List.of(CPU)),
                Probe.unavailable("libcuda.so.1: cannot open shared object file: No such file or directory"),
                Probe.unavailable("libnvidia-ml.so.1: cannot open shared object file"), Optional.empty());
        assertTrue(inv.gpus().isEmpty());
        assertEquals(0, inv.peers().size());
        assertTrue(inv.notes().isEmpty(), inv.notes().toString());
        assertEquals(List.of(true, false, false), inv.sources().stream().map(GpuSource::available).toList());
    }

    @Test
    void aLlamaGpuThatIsNotCudaComesAfterTheCudaOnes() {
        BackendDevice vulkan = new BackendDevice(2, "Vulkan0", "Radeon", BackendDevice.Type.GPU, GIB, 2 * GIB);
        GpuInventory inv = GpuDiscovery.merge(Probe.found(List.of(CPU, cuda(1, 0), vulkan)), cudaOn(0x18),
                Probe.found(NVML_ALL), Optional.empty());
        assertEquals(List.of(0, 1), inv.indexes());
        assertEquals("Vulkan0", inv.gpus().get(1).backendName());
        assertEquals("Radeon", inv.gpus().get(1).name());
        assertEquals(Link.UNKNOWN, inv.peers().link(0, 1));
    }

    @Test
    void aCudaGpuNvmlCannotFindIsNoted() {
        GpuInventory inv = GpuDiscovery.merge(Probe.found(List.of(CPU, cuda(1, 0))), cudaOn(0x99),
                Probe.found(NVML_ALL), Optional.empty());
        assertEquals(-1, inv.gpus().getFirst().nvmlIndex());
        assertTrue(inv.notes().stream().anyMatch(n -> n.level() == System.Logger.Level.WARNING
                && n.text().startsWith("CUDA GPU 0 (NVIDIA H100 80GB HBM3, 0000:99:00.0) has no NVML device")));
    }

    @Test
    void llamaCppUnavailableIsASourceLineNotAFailure() {
        GpuInventory inv = GpuDiscovery.merge(Probe.unavailable("could not load llama.cpp"), cudaOn(0x18),
                Probe.found(NVML_ALL), Optional.empty());
        assertEquals(1, inv.gpus().size());
        assertEquals("llama.cpp: unavailable (could not load llama.cpp)",
                inv.source(GpuDiscovery.LLAMA).orElseThrow().toString());
        assertTrue(inv.notes().stream().noneMatch(n -> n.text().startsWith("llama.cpp has no backend")),
                "no claim about a backend llama.cpp was not asked for");
    }

    @Test
    void cudaOrdinalsComeFromLlamaCppsNames() {
        assertEquals(0, GpuDiscovery.cudaOrdinal("CUDA0"));
        assertEquals(12, GpuDiscovery.cudaOrdinal("CUDA12"));
        assertEquals(-1, GpuDiscovery.cudaOrdinal("Vulkan0"));
        assertEquals(-1, GpuDiscovery.cudaOrdinal("CUDA"));
    }

    // --gpus

    private static GpuInventory fourGpus() {
        return GpuDiscovery.merge(Probe.found(List.of(CPU, cuda(1, 0), cuda(2, 1), cuda(3, 2), cuda(4, 3))),
                cudaOn(0x18, 0x2a, 0x3b, 0x5d), Probe.found(NVML_ALL), Optional.empty());
    }

    @Test
    void selectKeepsTheGivenOrderAndTheirPeers() {
        GpuInventory chosen = fourGpus().select(List.of("2", " 0"));
        assertEquals(List.of(2, 0), chosen.indexes());
        assertEquals(List.of(2, 0), chosen.peers().ids());
        assertEquals(Link.OK, chosen.peers().link(2, 0));
        assertEquals(fourGpus(), fourGpus().select(List.of()));
    }

    @Test
    void anUnknownIdListsTheVisibleGpus() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> fourGpus().select(List.of("0", "4")));
        assertEquals("--gpus: there is no GPU 4; visible GPUs: 0 (NVIDIA H100 80GB HBM3, 0000:18:00.0), "
                + "1 (NVIDIA H100 80GB HBM3, 0000:2a:00.0), 2 (NVIDIA H100 80GB HBM3, 0000:3b:00.0), "
                + "3 (NVIDIA H100 80GB HBM3, 0000:5d:00.0)", e.getMessage());
    }

    @Test
    void badIdsAreRejected() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> fourGpus().select(List.of("one")))
                .getMessage().startsWith("--gpus: \"one\" is not a GPU id; visible GPUs"));
        assertEquals("--gpus: GPU 1 is listed twice", assertThrows(IllegalArgumentException.class,
                () -> fourGpus().select(List.of("1", "1"))).getMessage());
        assertThrows(IllegalArgumentException.class, () -> fourGpus().select(List.of("-1")));
    }

    @Test
    void parsedIndexesAreCheckedTheSameWay() {
        assertEquals(List.of(3, 1), fourGpus().selectIndexes(List.of(3, 1)).indexes());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> fourGpus().selectIndexes(List.of(0, 9)))
                .getMessage().startsWith("--gpus: there is no GPU 9; visible GPUs: 0 ("));
    }

    @Test
    void withNoGpuTheMessageSaysWhy() {
        GpuInventory none = GpuDiscovery.merge(Probe.found(List.of(CPU)),
                Probe.unavailable("no CUDA device visible (CUDA_ERROR_NO_DEVICE, CUDA_VISIBLE_DEVICES=)"),
                Probe.found(NVML_ALL), Optional.of(""));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> none.select(List.of("0")));
        assertEquals("--gpus: there is no GPU 0; no GPU is visible (CUDA_VISIBLE_DEVICES=): CUDA driver: "
                + "unavailable (no CUDA device visible (CUDA_ERROR_NO_DEVICE, CUDA_VISIBLE_DEVICES=))", e.getMessage());
    }
}
