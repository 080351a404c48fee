package dev.gantry.models.gguf;

import dev.gantry.models.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reads real GGUF files and checks what is really in them. */
class GgufReaderTest {

    @Test
    void readsTheTinyModel() throws IOException {
        Path file = TestData.tinyModel();
        GgufMetadata md = GgufReader.readMetadata(file);

        assertEquals(3, md.version());
        assertEquals(1_185_376L, md.fileSize());
        assertEquals("llama", md.architecture());
        assertEquals("llama", md.modelFamily());
        assertEquals(Optional.of("llama"), md.name());
        assertEquals(OptionalLong.of(5), md.blockCount());
        assertEquals(OptionalLong.of(64), md.embeddingLength());
        assertEquals(OptionalLong.of(172), md.feedForwardLength());
        assertEquals(OptionalLong.of(8), md.headCount());
        assertEquals(OptionalLong.of(4), md.headCountKv());
        assertEquals(OptionalLong.of(2048), md.contextLength());
        assertEquals(48, md.tensorCount());
        assertEquals(292_800L, md.parameterCount());
        assertEquals("293K", md.parameterSizeLabel());
        assertEquals(OptionalLong.empty(), md.fileType(), "this file has no general.file_type");
        assertEquals("F32", md.quantizationLevel());
        assertEquals(512, md.vocabularySize());
        assertEquals(Optional.of("llama"), md.tokenizerModel());
        assertEquals(Optional.empty(), md.chatTemplate());
        assertEquals(19, md.metadata().size());
        assertEquals(OptionalLong.of(8), md.getLong("llama.rope.dimension_count"));
        assertEquals(OptionalLong.of(4_294_967_295L), md.getLong("tokenizer.ggml.padding_token_id"),
                "UINT32 values keep their unsigned meaning");
        assertEquals(1e-5, md.getDouble("llama.attention.layer_norm_rms_epsilon").orElseThrow(), 1e-9);

        // 512 tokens are under the default cap of 1024, so the vocabulary is materialised
        GgufArray tokens = md.getArray("tokenizer.ggml.tokens").orElseThrow();
        assertTrue(tokens.isMaterialised());
        assertEquals(GgufValueType.STRING, tokens.elementType());
        assertEquals(List.of("<unk>", "<s>", "</s>"), tokens.values().orElseThrow().subList(0, 3));
        assertInstanceOf(Float.class, md.getArray("tokenizer.ggml.scores").orElseThrow().elements().getFirst());
        assertInstanceOf(Integer.class, md.getArray("tokenizer.ggml.token_type").orElseThrow().elements().getFirst());
    }

    @Test
    void tinyModelTensorsAreF32AndFillTheDataSection() throws IOException {
        GgufMetadata md = GgufReader.readMetadata(TestData.tinyModel());
        assertEquals(32, md.alignment());
        assertEquals(0, md.dataOffset() % 32);
        long bytes = 0;
        for (GgufTensorInfo t : md.tensors()) {
            assertEquals(Optional.of(GgmlType.F32), t.type(), t.name());
            bytes += t.byteSize().orElseThrow();
        }
        assertEquals(292_800L * 4, bytes);
        // the data section holds the tensors plus at most the padding between them
        assertTrue(md.tensorDataBytes() >= bytes && md.tensorDataBytes() < bytes + 48 * 32,
                () -> "tensorDataBytes " + md.tensorDataBytes());
        assertEquals(md.fileSize() - md.dataOffset(), md.tensorDataBytes());

        GgufTensorInfo embd = md.tensors().stream()
                .filter(t -> t.name().equals("token_embd.weight")).findFirst().orElseThrow();
        assertEquals(List.of(64L, 512L), embd.dimensions());
        assertEquals(64L * 512, embd.elementCount());
    }

    @Test
    void llamaBpeVocabularyIsCountedButNotMaterialised() throws IOException {
        GgufMetadata md = GgufReader.readMetadata(TestData.vocab("llama-bpe"));
        assertEquals(128_256L, md.vocabularySize());
        GgufArray tokens = md.getArray("tokenizer.ggml.tokens").orElseThrow();
        assertFalse(tokens.isMaterialised());
        assertEquals(Optional.empty(), tokens.values());
        assertEquals(GgufValueType.STRING, tokens.elementType());
        assertEquals(128_256L, tokens.length());
        assertEquals(280_147L, md.getArray("tokenizer.ggml.merges").orElseThrow().length());

        assertEquals("llama", md.architecture());
        assertEquals(Optional.of("gpt2"), md.tokenizerModel());
        // this vocabulary file really carries no chat template
        assertEquals(Optional.empty(), md.chatTemplate());
        assertEquals(OptionalLong.of(8192), md.contextLength());
        assertEquals(OptionalLong.of(32), md.headCount());
        assertEquals(OptionalLong.of(8), md.headCountKv());
        assertEquals(0, md.tensorCount());
        assertEquals(0, md.parameterCount());
        assertEquals("0", md.parameterSizeLabel());
        assertEquals(OptionalLong.of(1), md.fileType());
        assertEquals("F16", md.quantizationLevel());
        assertEquals(OptionalLong.of(128_000), md.getLong("tokenizer.ggml.bos_token_id"));
    }

    @ParameterizedTest
    @CsvSource({
        // vocab,     arch,  tokenizer, vocabulary, has template, kv heads
        "qwen2,      qwen2, gpt2,      151936,     true,         32",
        "phi-3,      phi3,  llama,     32064,      true,         32",
        "llama-spm,  llama, llama,     32000,      false,        32",
        "bert-bge,   bert,  bert,      30522,      false,        12",
    })
    void readsOtherVocabularies(String vocab, String arch, String tokenizer, long size, boolean template,
                                long kvHeads) throws IOException {
        GgufMetadata md = GgufReader.readMetadata(TestData.vocab(vocab));
        assertEquals(arch, md.architecture());
        assertEquals(Optional.of(tokenizer), md.tokenizerModel());
        assertEquals(size, md.vocabularySize());
        assertEquals(template, md.chatTemplate().isPresent());
        // bert-bge has no head_count_kv key: it falls back to head_count
        assertEquals(OptionalLong.of(kvHeads), md.headCountKv());
    }

    @Test
    void qwen2ChatTemplateIsReadInFull() throws IOException {
        GgufMetadata md = GgufReader.readMetadata(TestData.vocab("qwen2"));
        String template = md.chatTemplate().orElseThrow();
        assertTrue(template.startsWith("{% for message in messages %}"), template);
        assertTrue(template.contains("<|im_start|>"), template);
    }

    @Test
    void arrayCapIsConfigurable() throws IOException {
        Path file = TestData.tinyModel();
        GgufMetadata none = new GgufReader(0).read(file);
        assertFalse(none.getArray("tokenizer.ggml.tokens").orElseThrow().isMaterialised());
        assertEquals(512, none.vocabularySize());

        GgufMetadata small = new GgufReader(511).read(file);
        assertFalse(small.getArray("tokenizer.ggml.scores").orElseThrow().isMaterialised());
        GgufMetadata exact = new GgufReader(512).read(file);
        assertTrue(exact.getArray("tokenizer.ggml.scores").orElseThrow().isMaterialised());
    }

    @Test
    void readsVersion2AndEveryValueType(@TempDir Path dir) throws IOException {
        GgufBytes b = GgufBytes.header(2, 1, 15)
                .kvString("general.architecture", "toy")
                .key("u8", GgufValueType.UINT8).u8(200)
                .key("i8", GgufValueType.INT8).u8(0xFF)
                .key("u16", GgufValueType.UINT16).u16(65535)
                .key("i16", GgufValueType.INT16).u16(0x8000)
                .key("u32", GgufValueType.UINT32).u32(0xFFFF_FFFFL)
                .key("i32", GgufValueType.INT32).u32(-5)
                .key("f32", GgufValueType.FLOAT32).f32(1.5f)
                .key("bool", GgufValueType.BOOL).u8(1)
                .key("u64", GgufValueType.UINT64).u64(-1)
                .key("i64", GgufValueType.INT64).u64(-7)
                .key("f64", GgufValueType.FLOAT64).f64(2.25)
                .key("nested", GgufValueType.ARRAY).u32(GgufValueType.ARRAY.id()).u64(2)
                    .u32(GgufValueType.INT32.id()).u64(2).u32(1).u32(2)
                    .u32(GgufValueType.STRING.id()).u64(1).str("x")
                .kvU32("toy.attention.head_count", 6)
                .key("toy.feed_forward_length", GgufValueType.ARRAY).u32(GgufValueType.UINT32.id()).u64(3)
                    .u32(100).u32(300).u32(200)
                .tensor("w", GgmlType.Q4_0, 0, 64, 2);
        b.pad(32).zeros(2 * 2 * 18);
        Path file = Files.write(dir.resolve("toy.gguf"), b.bytes());

        GgufMetadata md = GgufReader.readMetadata(file);
        assertEquals(2, md.version());
        assertEquals(200, md.get("u8").orElseThrow());
        assertEquals(-1, md.get("i8").orElseThrow());
        assertEquals(65535, md.get("u16").orElseThrow());
        assertEquals(-32768, md.get("i16").orElseThrow());
        assertEquals(0xFFFF_FFFFL, md.get("u32").orElseThrow());
        assertEquals(-5, md.get("i32").orElseThrow());
        assertEquals(1.5f, md.get("f32").orElseThrow());
        assertEquals(true, md.get("bool").orElseThrow());
        assertEquals("18446744073709551615", Long.toUnsignedString(md.getLong("u64").orElseThrow()));
        assertEquals(-7L, md.get("i64").orElseThrow());
        assertEquals(2.25, md.get("f64").orElseThrow());
        GgufArray nested = md.getArray("nested").orElseThrow();
        assertEquals(List.of(1, 2), ((GgufArray) nested.elements().get(0)).elements());
        assertEquals(List.of("x"), ((GgufArray) nested.elements().get(1)).elements());
        assertEquals(OptionalLong.of(6), md.headCountKv(), "kv heads default to heads");
        assertEquals(OptionalLong.of(300), md.feedForwardLength(), "per-layer arrays give their largest value");
        assertEquals(OptionalLong.empty(), md.contextLength());
        assertEquals("Q4_0", md.quantizationLevel(), "derived from the only tensor's type");
        assertEquals(128, md.parameterCount());
        assertEquals(2 * 2 * 18, md.tensorDataBytes());
    }

    @Test
    void honoursGeneralAlignment(@TempDir Path dir) throws IOException {
        GgufBytes b = GgufBytes.header(3, 2, 1)
                .kvU32("general.alignment", 64)
                .tensor("a", GgmlType.F32, 0, 3)
                .tensor("b", GgmlType.F32, 64, 3);
        int headerEnd = b.size();
        b.pad(64).zeros(64 + 12);
        Path file = Files.write(dir.resolve("aligned.gguf"), b.bytes());
        GgufMetadata md = GgufReader.readMetadata(file);
        assertEquals(64, md.alignment());
        assertEquals(Math.ceilDiv(headerEnd, 64) * 64L, md.dataOffset());
        assertEquals(6, md.parameterCount());
    }
}
