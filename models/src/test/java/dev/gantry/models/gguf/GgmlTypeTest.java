package dev.gantry.models.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GgmlTypeTest {

    @ParameterizedTest
    @CsvSource({
        // type, id, block, bytes per block, bytes for 4096 elements
        "F32,   0,   1,   4, 16384",
        "F16,   1,   1,   2, 8192",
        "BF16, 30,   1,   2, 8192",
        "Q4_0,  2,  32,  18, 2304",
        "Q4_1,  3,  32,  20, 2560",
        "Q5_0,  6,  32,  22, 2816",
        "Q5_1,  7,  32,  24, 3072",
        "Q8_0,  8,  32,  34, 4352",
        "Q2_K, 10, 256,  84, 1344",
        "Q3_K, 11, 256, 110, 1760",
        "Q4_K, 12, 256, 144, 2304",
        "Q5_K, 13, 256, 176, 2816",
        "Q6_K, 14, 256, 210, 3360",
        "Q8_K, 15, 256, 292, 4672",
    })
    void layouts(GgmlType type, int id, int block, int bytes, long for4096) {
        assertEquals(id, type.id());
        assertEquals(block, type.blockSize());
        assertEquals(bytes, type.bytesPerBlock());
        assertEquals(for4096, type.byteSize(4096));
        assertEquals(Optional.of(type), GgmlType.fromId(id));
        assertEquals((double) bytes / block, type.bytesPerElement());
    }

    @Test
    void unknownIds() {
        assertEquals(Optional.empty(), GgmlType.fromId(4), "Q4_2, retired");
        assertEquals(Optional.empty(), GgmlType.fromId(-1));
        assertEquals(Optional.empty(), GgmlType.fromId(1000));
    }

    @Test
    void partialBlocksRoundUpAndOverflowIsCaught() {
        assertEquals(18, GgmlType.Q4_0.byteSize(1));
        assertEquals(0, GgmlType.Q4_0.byteSize(0));
        assertTrue(GgmlType.Q4_K.isQuantized());
        assertFalse(GgmlType.F16.isQuantized());
        assertThrows(ArithmeticException.class, () -> GgmlType.F32.byteSize(Long.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> GgmlType.F32.byteSize(-1));
    }
}
