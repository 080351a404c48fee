package dev.gantry.runtime.place;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Parsing the placement policy and {@code --gpus}. */
class PlacementOptionsTest {

    @ParameterizedTest
    @CsvSource({
        "auto, auto",
        "'', auto",
        " AUTO , auto",
        "replicate, replicate",
        "split=layer, split=layer",
        "split=row, split=row",
        "Split=Tensor, split=tensor",
        "split= layer, split=layer",
    })
    void policies(String spec, String parsed) {
        assertEquals(parsed, Policy.parse(spec).toString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "spread     | expected auto, replicate, split=layer, split=row or split=tensor",
        "split      | expected auto, replicate, split=layer",
        "split=     | the split mode must be layer, row or tensor",
        "split=rows | the split mode must be layer, row or tensor",
        "split=none | split=none is not a split; use replicate",
    })
    void badPolicies(String spec, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Policy.parse(spec));
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    static Stream<Arguments> selections() {
        return Stream.of(
                Arguments.of("0,1,2,3", List.of(List.of(0, 1, 2, 3)), false),
                Arguments.of(" 0, 1 ", List.of(List.of(0, 1)), false),
                Arguments.of("2", List.of(List.of(2)), false),
                Arguments.of("0,1:2,3", List.of(List.of(0, 1), List.of(2, 3)), true),
                Arguments.of("0:1:2:3", List.of(List.of(0), List.of(1), List.of(2), List.of(3)), true),
                Arguments.of("3,2:1,0", List.of(List.of(3, 2), List.of(1, 0)), true),
                Arguments.of("all", List.of(), false),
                Arguments.of("", List.of(), false));
    }

    @ParameterizedTest(name = "--gpus \"{0}\"")
    @MethodSource("selections")
    void gpuSelections(String spec, List<List<Integer>> groups, boolean grouped) {
        GpuSelection s = GpuSelection.parse(spec);
        assertEquals(groups, s.groups());
        assertEquals(grouped, s.grouped());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "0,1:      | empty group",
        ":0        | empty group",
        "0,,1      | empty GPU id",
        "0,1,      | empty GPU id",
        "a,b       | \"a\" is not a GPU index; expected e.g. 0,1,2,3 or 0,1:2,3",
        "-1        | \"-1\" is not a GPU index",
        "0,1:1,2   | GPU 1 is listed twice",
        "123456    | out of range",
    })
    void badGpuSelections(String spec, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GpuSelection.parse(spec));
        assertTrue(e.getMessage().contains(message), e.getMessage());
        assertTrue(e.getMessage().startsWith("--gpus \"" + spec + "\""), e.getMessage());
    }

    @Test
    void selectionPrintsBack() {
        assertEquals("0,1:2,3", GpuSelection.parse("0,1:2,3").toString());
        assertEquals("0,1,2", GpuSelection.parse("0,1,2").toString());
        assertEquals("all", GpuSelection.ALL.toString());
        assertTrue(GpuSelection.ALL.isAll());
        assertFalse(GpuSelection.parse("1").isAll());
    }

    @ParameterizedTest
    @CsvSource({"layer, LAYER, 1", "ROW, ROW, 2", "tensor, TENSOR, 3", "none, NONE, 0"})
    void splitModes(String spec, SplitMode mode, int llama) {
        assertEquals(mode, SplitMode.parse(spec));
        assertEquals(llama, mode.llamaValue());
    }

    @Test
    void requestRejectsNonsense() {
        ModelSize m = ModelSize.ofWeights(1, 1, 1, 1);
        assertThrows(IllegalArgumentException.class, () -> PlacementRequest.of(m, 4096, 0));
        assertThrows(IllegalArgumentException.class, () -> PlacementRequest.of(m, 4096, 1).withMemoryFraction(0));
        assertThrows(IllegalArgumentException.class, () -> PlacementRequest.of(m, 4096, 1).withMemoryFraction(1.5));
        assertThrows(IllegalArgumentException.class, () -> PlacementRequest.of(m, 4096, 1).withMemoryFraction(Double.NaN));
    }
}
