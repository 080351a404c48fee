package dev.gantry.llama.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfEnvironmentVariable;

/**
 * The real NVML and CUDA driver on a GPU host: {@code GANTRY_GPU_TESTS=1 ./mvnw -pl native test
 * -Dtest='dev.gantry.llama.gpu.GpuHostTest'}. Enabled by a variable rather than the {@code gpu} tag because the
 * parent pom's {@code excludedGroups} cannot be overridden from the command line.
 */
@EnabledIfEnvironmentVariable(named = "GANTRY_GPU_TESTS", matches = "1|true")
class GpuHostTest {
    @Test
    void nvmlListsAndSamplesEveryGpu() {
        try (Nvml nvml = Nvml.open().get()) {
            System.out.println(nvml);
            assertFalse(nvml.devices().isEmpty());
            for (NvmlDevice d : nvml.devices()) {
                assertTrue(d.pciBusId().matches("[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]"), d.toString());
                assertTrue(d.uuid().startsWith("GPU-"), d.toString());
                assertTrue(d.name().startsWith("NVIDIA"), d.toString());
                NvmlSample s = nvml.sample(d);
                System.out.println(d + " " + s);
                assertTrue(s.memoryTotalBytes() > (1L << 30), s.toString());
                assertTrue(s.memoryUsedBytes() >= 0 && s.memoryUsedBytes() <= s.memoryTotalBytes(), s.toString());
                assertTrue(s.utilizationPercent() >= 0 && s.utilizationPercent() <= 100, s.toString());
                assertTrue(s.temperatureCelsius() > 0 && s.temperatureCelsius() < 120, s.toString());
                assertTrue(Double.isNaN(s.powerWatts()) || s.powerWatts() > 1 && s.powerWatts() < 2000, s.toString());
            }
        }
    }

    @Test
    void cudaTopologyMatchesNvmlByBusId() {
        CudaTopology cuda = CudaTopology.probe().get();
        System.out.println(cuda);
        assertFalse(cuda.devices().isEmpty());
        assertTrue(cuda.driverVersion() >= 12000, cuda.driverVersionText());
        for (CudaDevice d : cuda.devices()) {
            assertTrue(d.computeMajor() >= 7 && d.smCount() > 0 && d.memoryBusWidthBits() > 0, d.toString());
            assertTrue(d.totalBytes() > (1L << 30), d.toString());
            // an H100 or H200 is 3 to 5 TB/s; anything much below 100 GB/s means a unit is wrong
            assertTrue(d.bandwidthBytesPerSecond() > 100e9, d + " " + d.bandwidthBytesPerSecond());
        }
        for (int i = 0; i < cuda.devices().size(); i++) {
            for (int j = 0; j < cuda.devices().size(); j++) {
                assertNotEquals(PeerAccess.Link.UNKNOWN, cuda.peers().link(i, j), i + "->" + j);
            }
        }
        try (Nvml nvml = Nvml.open().get()) {
            Set<String> nvmlBuses = nvml.devices().stream().map(NvmlDevice::pciBusId).collect(Collectors.toSet());
            List<String> cudaBuses = cuda.devices().stream().map(CudaDevice::pciBusId).toList();
            assertTrue(nvmlBuses.containsAll(cudaBuses), cudaBuses + " not all in " + nvmlBuses);
            GpuInventory inv = GpuDiscovery.merge(Probe.unavailable("not asked"), Probe.found(cuda),
                    Probe.found(nvml.devices()), CudaTopology.visibleDevices());
            assertEquals(cuda.devices().size(), inv.gpus().size());
            assertTrue(inv.gpus().stream().allMatch(g -> g.nvmlIndex() >= 0), inv.gpus().toString());
        }
    }
}
