package dev.gantry.llama.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.gantry.llama.gpu.PeerAccess.Link;
import java.util.List;
import org.junit.jupiter.api.Test;

class CudaTopologyTest {
    @Test
    void readsEveryDeviceAndEveryPair() {
        FakeCudaDriver driver = new FakeCudaDriver(List.of(FakeCudaDriver.h100(0, 0x18), FakeCudaDriver.h100(0, 0x2a)))
                .connect(0, 1).connect(1, 0);
        CudaTopology t = CudaTopology.read(driver);
        assertEquals(13000, t.driverVersion());
        assertEquals("13.0", t.driverVersionText());
        assertEquals(new CudaDevice(0, "NVIDIA H100 80GB HBM3", 85_045_231_616L, 9, 0, 132, 5120, 2_619_000,
                "0000:18:00.0"), t.devices().get(0));
        assertEquals("0000:2a:00.0", t.devices().get(1).pciBusId());
        assertEquals(List.of(0, 1), t.peers().ids());
        assertEquals(Link.SELF, t.peers().link(0, 0));
        assertEquals(Link.OK, t.peers().link(0, 1));
        assertEquals(Link.OK, t.peers().link(1, 0));
    }

    @Test
    void bandwidthIsTwiceTheClockTimesTheBusInBytes() {
        CudaDevice h100 = CudaTopology.read(new FakeCudaDriver(List.of(FakeCudaDriver.h100(0, 1)))).devices().get(0);
        assertEquals(3_352_320_000_000L, h100.bandwidthBytesPerSecond()); // 3.35 TB/s, the data sheet's figure
        assertEquals(-1, new CudaDevice(0, "x", 1, 9, 0, 1, -1, 2_619_000, "").bandwidthBytesPerSecond());
    }

    @Test
    void aFailedQueryOnlyMakesThatFigureUnknown() {
        FakeCudaDriver driver = new FakeCudaDriver(List.of(FakeCudaDriver.h100(0, 0x18), FakeCudaDriver.h100(0, 0x2a)))
                .connect(1, 0);
        driver.failing.add("attribute " + CudaTopology.ATTR_MEMORY_CLOCK_RATE);
        driver.failing.add("attribute " + CudaTopology.ATTR_PCI_BUS_ID);
        driver.failing.add("peer 0>1");
        driver.failing.add("name");
        driver.failing.add("version");
        CudaTopology t = CudaTopology.read(driver);
        CudaDevice d = t.devices().get(0);
        assertEquals(-1, d.memoryClockKHz());
        assertEquals(-1, d.bandwidthBytesPerSecond());
        assertEquals("", d.pciBusId(), "no bus id from a partial one");
        assertEquals("CUDA device 0", d.name());
        assertEquals(132, d.smCount());
        assertEquals(Link.UNKNOWN, t.peers().link(0, 1));
        assertEquals(Link.OK, t.peers().link(1, 0));
        assertEquals("?", t.driverVersionText());
    }

    @Test
    void aDriverThatCannotCountIsUnavailable() {
        FakeCudaDriver driver = new FakeCudaDriver(List.of());
        driver.failing.add("count");
        Probe<CudaTopology> t = CudaTopology.probe(() -> driver);
        assertFalse(t.isAvailable());
        assertEquals("CUDA_ERROR_UNKNOWN in count", t.reason());
    }

    @Test
    void noDeviceIsSaidPlainly() {
        Probe<CudaTopology> t = CudaTopology.probe(() -> {
            throw new IllegalStateException("CUDA_ERROR_NO_DEVICE");
        });
        assertTrue(t.reason().startsWith("no CUDA device visible (CUDA_ERROR_NO_DEVICE"), t.reason());
    }

    @Test
    void aLinkageErrorFromJCudaIsUnavailableWithItsCause() {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("/tmp/libJCudaDriver-12.6.0-linux-x86_64.so: "
                + "libcuda.so.1: cannot open shared object file: No such file or directory");
        Probe<CudaTopology> t = CudaTopology.probe(() -> {
            throw e;
        });
        assertEquals("libcuda.so.1: cannot open shared object file: No such file or directory", t.reason());
        assertSame(e, t.cause().orElseThrow());
    }

    @Test
    void onAHostWithoutLibcudaTheRealProbeIsUnavailableNamingIt() {
        assumeTrue(NvmlTest.NativeProbes.nothingNamed("libcuda.so.1"), "this host has libcuda.so.1");
        Probe<CudaTopology> t = CudaTopology.probe();
        assertFalse(t.isAvailable());
        assertTrue(t.reason().contains("libcuda.so.1"), t.reason());
        assertTrue(t.cause().orElseThrow() instanceof LinkageError, t.cause().toString());
        assertSame(t, CudaTopology.probe(), "read once per process");
    }
}
