package dev.gantry.server.api.ollama;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code size_vram} of one replica in {@code /api/ps}: everything it holds on its GPUs, not its weights alone. */
class PsVramTest {
    @Test
    void aReplicaOnGpusCountsWhatLlamaCppAllocatedThere() {
        // the H200 run's 8B model: 21.67 GB on the GPU (weights, 16 GB of KV cache, compute buffers), 4.5 GB weights
        assertEquals(21_673_363_374L, ModelHandlers.vramBytes(List.of(21_673_363_374L), 4_517_937_152L));
        assertEquals(30L, ModelHandlers.vramBytes(List.of(10L, 20L), 25L), "a split replica: every GPU's share");
    }

    @Test
    void withoutFiguresPerGpuTheWeightsOnGpusStand() {
        assertEquals(4_517_937_152L, ModelHandlers.vramBytes(List.of(), 4_517_937_152L), "llama.cpp chose the GPUs");
        assertEquals(0L, ModelHandlers.vramBytes(List.of(), 0L), "on the CPU");
        assertEquals(7L, ModelHandlers.vramBytes(List.of(-1L), 7L), "nothing reported");
    }
}
