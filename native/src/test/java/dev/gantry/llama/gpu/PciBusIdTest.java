package dev.gantry.llama.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class PciBusIdTest {
    @Test
    void nvmlAndCudaSpellingsMeetInOne() {
        assertEquals(Optional.of("0000:3b:00.0"), PciBusId.parse("00000000:3B:00.0")); // NVML's busId
        assertEquals(Optional.of("0000:3b:00.0"), PciBusId.parse("0000:3b:00.0")); // cuDeviceGetPCIBusId
        assertEquals(Optional.of("0000:3b:00.0"), PciBusId.parse("3B:00.0")); // no domain
        assertEquals(Optional.of("10000:01:1f.7"), PciBusId.parse(" 10000:01:1F.7 ")); // a VMD domain
        assertEquals("0000:3b:00.0", PciBusId.of(0, 0x3b, 0, 0));
        assertEquals("ffffffff:ff:1f.0", PciBusId.of(-1, 0xff, 0x1f, 0));
    }

    @Test
    void otherTextIsNotABusId() {
        assertEquals(Optional.empty(), PciBusId.parse(""));
        assertEquals(Optional.empty(), PciBusId.parse(null));
        assertEquals(Optional.empty(), PciBusId.parse("GPU-1234"));
        assertEquals(Optional.empty(), PciBusId.parse("0000:3b:00"));
    }
}
