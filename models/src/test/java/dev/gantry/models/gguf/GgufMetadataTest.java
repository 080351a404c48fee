package dev.gantry.models.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GgufMetadataTest {

    @ParameterizedTest
    @CsvSource({
        // count, Ollama's label (format.HumanNumber)
        "0,              0",
        "999,            999",
        "1000,           1K",
        "1499,           1K",
        "292800,         293K",
        "260000,         260K",
        "999499,         999K",
        "1000000,        1M",
        "494032768,      494.03M",
        "135000000,      135M",
        "1235814400,     1.2B",
        "7000000000,     7B",
        "8030261248,     8.0B",
        "70553706496,    70.6B",
    })
    void parameterLabelsMatchOllama(long count, String label) {
        assertEquals(label, GgufMetadata.formatParameterCount(count));
    }

    @Test
    void negativeParameterCountIsABug() {
        assertThrows(IllegalArgumentException.class, () -> GgufMetadata.formatParameterCount(-1));
    }

    @ParameterizedTest
    @CsvSource({
        "0, F32", "1, F16", "2, Q4_0", "3, Q4_1", "7, Q8_0", "8, Q5_0", "9, Q5_1", "10, Q2_K",
        "11, Q3_K_S", "12, Q3_K_M", "13, Q3_K_L", "14, Q4_K_S", "15, Q4_K_M", "16, Q5_K_S", "17, Q5_K_M",
        "18, Q6_K", "19, IQ2_XXS", "30, IQ4_XS", "32, BF16", "38, MXFP4",
        "1039, Q4_K_M", // 1024 | 15: llama.cpp's 'guessed' flag
        "5, unknown", "33, unknown", "999, unknown",
    })
    void quantizationFromFileType(long ftype, String label) {
        GgufMetadata md = metadata(Map.of("general.architecture", "llama", "general.file_type", ftype), List.of());
        assertEquals(label, md.quantizationLevel());
        assertEquals(OptionalLong.of(ftype), md.fileType());
    }

    @Test
    void quantizationFromTheDominantTensorType() {
        List<GgufTensorInfo> tensors = List.of(
                new GgufTensorInfo("norm", List.of(4096L), GgmlType.F32.id(), 0),
                new GgufTensorInfo("a", List.of(4096L, 4096L), GgmlType.Q4_K.id(), 0),
                new GgufTensorInfo("b", List.of(4096L, 1024L), GgmlType.Q6_K.id(), 0));
        assertEquals("Q4_K", metadata(Map.of(), tensors).quantizationLevel());
        assertEquals("unknown", metadata(Map.of(), List.of()).quantizationLevel());
    }

    @Test
    void accessorsOnAnEmptyHeader() {
        GgufMetadata md = metadata(Map.of(), List.of());
        assertEquals("unknown", md.architecture());
        assertEquals(Optional.empty(), md.name());
        assertEquals(OptionalLong.empty(), md.contextLength());
        assertEquals(OptionalLong.empty(), md.headCountKv());
        assertEquals(0, md.vocabularySize());
        assertEquals(Optional.empty(), md.get("nope"));
        assertEquals(OptionalLong.empty(), md.getLong("nope"));
    }

    @Test
    void vocabularySizeFallsBackToTheArchitectureKey() {
        GgufMetadata md = metadata(Map.of("general.architecture", "llama", "llama.vocab_size", 32000L), List.of());
        assertEquals(32000, md.vocabularySize());
    }

    @Test
    void typedGettersDoNotConvertAcrossKinds() {
        GgufMetadata md = metadata(Map.of("s", "12", "f", 1.5f, "b", true, "i", 7), List.of());
        assertEquals(OptionalLong.empty(), md.getLong("s"));
        assertEquals(OptionalLong.empty(), md.getLong("f"));
        assertEquals(OptionalLong.empty(), md.getLong("b"));
        assertEquals(OptionalLong.of(7), md.getLong("i"));
        assertEquals(Optional.empty(), md.getString("i"));
        assertEquals(Optional.of("12"), md.getString("s"));
    }

    private static GgufMetadata metadata(Map<String, Object> kv, List<GgufTensorInfo> tensors) {
        return new GgufMetadata(3, 1000, 32, 512, new LinkedHashMap<>(kv), tensors);
    }
}
