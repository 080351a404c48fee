package dev.gantry.runtime.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.llama.gpu.GpuDiscovery;
import dev.gantry.llama.gpu.GpuInventory;
import dev.gantry.llama.gpu.PeerAccess;
import dev.gantry.llama.gpu.Probe;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class GpuTableTest {
    private static final Instant T = Instant.parse("2026-11-27T12:00:00Z");

    private static GpuSample sample(int gpu, int util, int celsius, double watts, boolean stale) {
        return new GpuSample(gpu, util, 3, 9L << 30, 80L << 30, celsius, watts, T, stale);
    }

    @Test
    void rendersTheGpusTheMatrixAndTheSources() {
        GpuInventory inv = GpuDiscovery.merge(GpuHosts.llama(2), GpuHosts.twoH100s(), Probe.found(GpuHosts.nvml()),
                Optional.empty());
        String text = GpuTable.render(inv, Optional.of(Map.of(0, sample(0, 87, 61, 512.4, false),
                1, sample(1, 0, 33, 71, false))));
        assertEquals("""
                GPU  BACKEND  NAME                   PCI BUS ID    MEMORY FREE/TOTAL  CC   SMS  BUS       BANDWIDTH  \
                UTIL  TEMP  POWER
                0    CUDA0    NVIDIA H100 80GB HBM3  0000:18:00.0  70.0 / 79.2 GiB    9.0  132  5120-bit  3352 GB/s  \
                87%   61C   512W
                1    CUDA1    NVIDIA H100 80GB HBM3  0000:2a:00.0  71.0 / 79.2 GiB    9.0  132  5120-bit  3352 GB/s  \
                0%    33C   71W

                Peer-to-peer access, row to column (OK: direct, --: through the host, X: self, ?: unknown):
                      GPU0  GPU1
                GPU0  X     OK
                GPU1  --    X

                llama.cpp: 2 GPUs: CUDA0, CUDA1
                CUDA driver: CUDA 13.0, 2 devices visible
                NVML: 2 GPUs
                """, text);
    }

    @Test
    void unknownFiguresAreDashesAndAnUnavailableSourceSaysWhy() {
        GpuInventory inv = GpuDiscovery.merge(GpuHosts.llama(1), Probe.unavailable("libcuda.so.1: cannot open "
                + "shared object file"), Probe.unavailable("libnvidia-ml.so.1: cannot open shared object file"),
                Optional.empty());
        String text = GpuTable.render(inv, Optional.empty());
        assertEquals("""
                GPU  BACKEND  NAME                   PCI BUS ID  MEMORY FREE/TOTAL  CC  SMS  BUS  BANDWIDTH  UTIL  \
                TEMP  POWER
                0    CUDA0    NVIDIA H100 80GB HBM3  -           70.0 / 79.0 GiB    -   -    -    -          -     \
                -     -

                llama.cpp: 1 GPU: CUDA0
                CUDA driver: unavailable (libcuda.so.1: cannot open shared object file)
                NVML: unavailable (libnvidia-ml.so.1: cannot open shared object file)
                """, text);
    }

    @Test
    void aStaleReadingIsMarked() {
        GpuInventory inv = GpuDiscovery.merge(GpuHosts.llama(2), GpuHosts.twoH100s(), Probe.found(GpuHosts.nvml()),
                Optional.empty());
        String text = GpuTable.render(inv.gpus(), inv.peers(), Optional.of(Map.of(1, sample(1, 5, 30, 70, true))));
        assertTrue(text.contains("5%*   30C*  70W*"), text);
        assertTrue(text.contains("* stale: the last reading of this GPU failed"), text);
    }

    @Test
    void noGpuIsOneClearLineThenTheReasons() {
        GpuInventory inv = GpuDiscovery.merge(Probe.found(List.of(GpuHosts.CPU)),
                Probe.unavailable("libcuda.so.1: cannot open shared object file: No such file or directory"),
                Probe.unavailable("libnvidia-ml.so.1: cannot open shared object file"), Optional.empty());
        assertEquals("""
                No GPU found: models run on the CPU.

                llama.cpp: no GPU backend (CPU only)
                CUDA driver: unavailable (libcuda.so.1: cannot open shared object file: No such file or directory)
                NVML: unavailable (libnvidia-ml.so.1: cannot open shared object file)
                """, GpuTable.render(inv, Optional.empty()));
    }

    @Test
    void oneGpuHasNoMatrix() {
        GpuInventory inv = GpuDiscovery.merge(GpuHosts.llama(1), GpuHosts.twoH100s(), Probe.found(GpuHosts.nvml()),
                Optional.empty()).select(List.of("1"));
        String text = GpuTable.render(inv.gpus(), inv.peers(), Optional.empty());
        assertTrue(text.startsWith("GPU  BACKEND"), text);
        assertTrue(!text.contains("Peer-to-peer"), text);
    }

    @Test
    void theMatrixShowsUnknownLinks() {
        String text = GpuTable.peerMatrix(PeerAccess.of(List.of(0, 3), new PeerAccess.Link[][] {
                {PeerAccess.Link.SELF, PeerAccess.Link.UNKNOWN}, {PeerAccess.Link.OK, PeerAccess.Link.SELF}}));
        assertTrue(text.endsWith("""
                      GPU0  GPU3
                GPU0  X     ?
                GPU3  OK    X
                """), text);
    }
}
