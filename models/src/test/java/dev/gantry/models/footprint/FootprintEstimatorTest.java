package dev.gantry.models.footprint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.models.TestData;
import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.GgufReader;
import dev.gantry.models.gguf.GgufTensorInfo;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Footprints of the real tiny model and of an in-memory Llama-3-8B-shaped header. */
class FootprintEstimatorTest {

    private static final long MIB = 1L << 20;

    /** Llama-3-8B's header in memory: 32 layers, 4096 embd, 32 heads, 8 KV heads, 14336 FFN, 128256 tokens, Q4_0. */
    static GgufMetadata llama3_8b(Map<String, Object> extraKeys, boolean withOutput) {
        Map<String, Object> kv = new LinkedHashMap<>();
        kv.put("general.architecture", "llama");
        kv.put("llama.context_length", 131072);
        kv.put("llama.embedding_length", 4096);
        kv.put("llama.block_count", 32);
        kv.put("llama.feed_forward_length", 14336);
        kv.put("llama.attention.head_count", 32);
        kv.put("llama.attention.head_count_kv", 8);
        kv.put("llama.vocab_size", 128256);
        kv.putAll(extraKeys);
        List<GgufTensorInfo> t = new ArrayList<>();
        int q = GgmlType.Q4_0.id();
        int f32 = GgmlType.F32.id();
        t.add(new GgufTensorInfo("token_embd.weight", List.of(4096L, 128256L), q, 0));
        for (int l = 0; l < 32; l++) {
            String p = "blk." + l + ".";
            t.add(new GgufTensorInfo(p + "attn_norm.weight", List.of(4096L), f32, 0));
            t.add(new GgufTensorInfo(p + "attn_q.weight", List.of(4096L, 4096L), q, 0));
            t.add(new GgufTensorInfo(p + "attn_k.weight", List.of(4096L, 1024L), q, 0));
            t.add(new GgufTensorInfo(p + "attn_v.weight", List.of(4096L, 1024L), q, 0));
            t.add(new GgufTensorInfo(p + "attn_output.weight", List.of(4096L, 4096L), q, 0));
            t.add(new GgufTensorInfo(p + "ffn_norm.weight", List.of(4096L), f32, 0));
            t.add(new GgufTensorInfo(p + "ffn_gate.weight", List.of(4096L, 14336L), q, 0));
            t.add(new GgufTensorInfo(p + "ffn_up.weight", List.of(4096L, 14336L), q, 0));
            t.add(new GgufTensorInfo(p + "ffn_down.weight", List.of(14336L, 4096L), q, 0));
        }
        t.add(new GgufTensorInfo("output_norm.weight", List.of(4096L), f32, 0));
        if (withOutput) {
            t.add(new GgufTensorInfo("output.weight", List.of(4096L, 128256L), q, 0));
        }
        return new GgufMetadata(3, 0, 32, 0, kv, t);
    }

    // Llama-3-8B Q4_0 by hand: a layer is 218,103,808 Q4_0 elements (18 bytes per 32) plus two F32 norms
    private static final long LAYER_8B = 218_103_808L / 32 * 18 + 2 * 4096 * 4;
    private static final long EMBD_8B = 4096L * 128256 / 32 * 18;

    @Test
    void llama3_8bWeights() {
        ModelFootprint f = FootprintEstimator.estimate(llama3_8b(Map.of(), true));
        assertEquals(32, f.layers());
        assertEquals(122_716_160L, LAYER_8B);
        for (int l = 0; l < 32; l++) {
            assertEquals(LAYER_8B, f.layerBytes(l), "layer " + l);
        }
        assertEquals(EMBD_8B, f.inputBytes());
        assertEquals(EMBD_8B + 4096 * 4, f.outputBytes());
        assertEquals(0, f.otherBytes());
        assertFalse(f.tiedOutput());
        // 4.21 GiB, the synthetic model's file size in DESIGN.md
        assertEquals(4_517_937_152L, f.weightBytes());
        assertEquals(f.weightBytes(), f.repeatingLayerBytes() + f.inputBytes() + f.outputBytes() + f.otherBytes());
        // the input embedding stays in host memory
        assertEquals(f.weightBytes() - EMBD_8B, f.gpuWeightBytes());
        assertEquals(128256, f.vocabulary());
        assertEquals(131072, f.contextLength());
        assertEquals(128, f.keyLength());
    }

    @Test
    void tiedOutputIsCopiedToTheOutputDevice() {
        ModelFootprint f = FootprintEstimator.estimate(llama3_8b(Map.of(), false));
        assertTrue(f.tiedOutput());
        assertEquals(4096 * 4, f.outputBytes());
        assertEquals(EMBD_8B + 4096 * 4, f.placedOutputBytes());
        assertEquals(f.repeatingLayerBytes() + EMBD_8B + 4096 * 4, f.gpuWeightBytes());
    }

    static Stream<Arguments> kvCases() {
        return Stream.of(
                Arguments.of("llama-3-8b, F16: 2 x 32 layers x 8 heads x 128 x 2 bytes", Map.of(), KvCacheType.F16, 131_072L),
                Arguments.of("llama-3-8b, Q8_0: 34 bytes per 32 elements", Map.of(), KvCacheType.Q8_0, 32L * 2 * 1024 / 32 * 34),
                Arguments.of("llama-3-8b, Q4_0: 18 bytes per 32 elements", Map.of(), KvCacheType.Q4_0, 32L * 2 * 1024 / 32 * 18),
                Arguments.of("llama-3-8b, F32", Map.of(), KvCacheType.F32, 262_144L),
                Arguments.of("explicit key and value lengths win over embd / heads",
                        Map.of("llama.attention.key_length", 192, "llama.attention.value_length", 128),
                        KvCacheType.F16, 32L * 8 * (192 + 128) * 2),
                Arguments.of("no head_count_kv: every head has its own KV",
                        Map.of("llama.attention.head_count_kv", 32), KvCacheType.F16, 524_288L));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("kvCases")
    void kvBytesPerToken(String name, Map<String, Object> keys, KvCacheType type, long expected) {
        ModelFootprint f = FootprintEstimator.estimate(llama3_8b(keys, true));
        assertEquals(expected, f.kvBytesPerToken(type));
        assertEquals(expected * 4096, f.kvBytes(type, 4096));
        assertEquals(expected / 32, f.kvBytesPerTokenPerLayer(type));
    }

    @Test
    void computeBufferOfLlama3_8b() {
        ModelFootprint f = FootprintEstimator.estimate(llama3_8b(Map.of(), true));
        // logits next to the hidden state: 4 x 512 x (4096 + 128256) = 258.5 MiB
        long logits = 4L * 512 * (4096 + 128256);
        assertEquals(258.5, logits / (double) MIB, 1e-9);
        assertEquals(logits + 2L * 512 * 4096 + ModelFootprint.COMPUTE_OVERHEAD_BYTES, f.computeBytes(512, 4096));
        // without flash attention a long context's scores (4 x 512 x 32768 x 32 = 2 GiB) dominate
        assertEquals(4L * 512 * 32768 * 32 + 4L * 512 * 32768 + ModelFootprint.COMPUTE_OVERHEAD_BYTES,
                f.computeBytes(512, 32768, false));
        // smaller micro-batches need proportionally less
        assertTrue(f.computeBytes(128, 4096) < f.computeBytes(512, 4096) / 3);
        assertThrows(IllegalArgumentException.class, () -> f.computeBytes(0, 4096));
    }

    /** llama.cpp keeps no KV cache for an encoder, and its largest activation is the feed-forward, not logits. */
    @Test
    void anEncoderHasNoKvCache(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws IOException {
        java.nio.file.Path file = dir.resolve("bert.gguf");
        dev.gantry.models.synthetic.SyntheticBert.write(dev.gantry.models.synthetic.SyntheticBert.TINY,
                TestData.vocab("bert-bge"), file, dev.gantry.models.gguf.GgmlType.F32,
                dev.gantry.models.synthetic.SyntheticBert.POOLING_MEAN);
        ModelFootprint f = FootprintEstimator.estimate(GgufReader.readMetadata(file));
        assertEquals("bert", f.architecture());
        assertEquals(0, f.kvBytesPerToken(KvCacheType.F16));
        assertEquals(0, f.kvBytes(KvCacheType.F16, 32768));
        // no output layer, and its input embedding stays on the host: only the blocks and the other tensors count
        assertFalse(f.tiedOutput());
        assertEquals(f.repeatingLayerBytes() + f.otherBytes(), f.gpuWeightBytes());
        // its pass is the runner's whole batch of 1024 (and a filler token), attending over itself whatever the
        // cells asked for, and it writes no 30522-wide logits
        long pass = ModelFootprint.ENCODER_BATCH + 1;
        assertEquals(4L * pass * 64 * 5 + 2L * pass * pass + ModelFootprint.COMPUTE_OVERHEAD_BYTES,
                f.computeBytes(512, 32768));
    }

    /** A model's LoRA adapters count as weights, each block's matrices with that block's layer. */
    @Test
    void aModelsAdaptersAddTheirBytes(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws IOException {
        java.nio.file.Path lora = dir.resolve("lora.gguf");
        dev.gantry.models.synthetic.SyntheticLora.write(TestData.tinyModel(), lora, 4, 4, 0.1, false);
        GgufMetadata md = GgufReader.readMetadata(TestData.tinyModel());
        dev.gantry.models.ModelLayers layers = new dev.gantry.models.ModelLayers(java.util.Optional.empty(),
                java.util.Optional.empty(), Map.of(), List.of(), List.of(), java.util.Optional.empty(), List.of(lora),
                java.util.Optional.empty(), 0, java.util.Optional.empty());
        dev.gantry.models.LocalModel m = new dev.gantry.models.LocalModel(dev.gantry.models.ModelName.parse("t"),
                TestData.tinyModel(), 1, java.time.Instant.EPOCH, md, layers);
        ModelFootprint plain = FootprintEstimator.estimate(md);
        ModelFootprint with = FootprintEstimator.estimate(m);
        long size = java.nio.file.Files.size(lora);
        GgufMetadata a = GgufReader.readMetadata(lora);
        long tensors = a.tensors().stream().mapToLong(t -> t.byteSize().orElseThrow()).sum();
        assertTrue(tensors > 0 && tensors < size, tensors + " of " + size);
        assertEquals(plain.gpuWeightBytes() + tensors, with.gpuWeightBytes());
        assertEquals(plain.weightBytes() + tensors, with.weightBytes());
        long layer0 = a.tensors().stream().filter(t -> t.name().startsWith("blk.0."))
                .mapToLong(t -> t.byteSize().orElseThrow()).sum();
        assertEquals(plain.layerBytes(0) + layer0, with.layerBytes(0), "block 0's matrices go with block 0");
        assertEquals(plain.otherBytes(), with.otherBytes());
        assertEquals(size, FootprintEstimator.adapterBytes(m));
    }

    @Test
    void tinyModelFromTheRealFile() throws IOException {
        GgufMetadata md = GgufReader.readMetadata(TestData.tinyModel());
        ModelFootprint f = FootprintEstimator.estimate(md);
        assertEquals("llama", f.architecture());
        assertEquals(5, f.layers());
        assertEquals(64, f.embedding());
        assertEquals(8, f.heads());
        assertEquals(4, f.kvHeads());
        assertEquals(8, f.keyLength());
        // 2 (K and V) x 5 layers x 4 KV heads x 8 per head x 2 bytes
        assertEquals(640, f.kvBytesPerToken(KvCacheType.F16));
        // a 32-element row is one block: 34 bytes in Q8_0, 18 in Q4_0
        assertEquals(2 * 5 * 34, f.kvBytesPerToken(KvCacheType.Q8_0));
        assertEquals(2 * 5 * 18, f.kvBytesPerToken(KvCacheType.Q4_0));
        // 292,800 F32 parameters; the data section holds them plus padding
        assertEquals(292_800L * 4, f.weightBytes());
        assertTrue(md.tensorDataBytes() >= f.weightBytes());
        assertEquals(f.weightBytes(), f.repeatingLayerBytes() + f.inputBytes() + f.outputBytes() + f.otherBytes());
        long first = f.layerBytes(0);
        assertTrue(first > 0);
        for (int l = 1; l < 5; l++) {
            assertEquals(first, f.layerBytes(l), "the tiny model's layers are all alike");
        }
        assertEquals(512L * 64 * 4, f.inputBytes());
        assertEquals(512, f.vocabulary());
    }

    @Test
    void vocabularyOnlyFileCannotBeSized() {
        GgufMetadata md = new GgufMetadata(3, 0, 32, 0, Map.of("general.architecture", "llama"), List.of());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FootprintEstimator.estimate(md));
        assertTrue(e.getMessage().contains("no tensors"), e.getMessage());
    }

    @Test
    void missingHeadCountIsNamed() {
        GgufMetadata md = new GgufMetadata(3, 0, 32, 0,
                Map.of("general.architecture", "llama", "llama.embedding_length", 64),
                List.of(new GgufTensorInfo("blk.0.attn_q.weight", List.of(64L, 64L), GgmlType.F32.id(), 0)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> FootprintEstimator.estimate(md));
        assertTrue(e.getMessage().contains("llama.attention.head_count"), e.getMessage());
    }

    @Test
    void layersCountedFromTensorNamesWhenBlockCountIsMissing() {
        GgufMetadata md = new GgufMetadata(3, 0, 32, 0,
                Map.of("general.architecture", "llama", "llama.embedding_length", 64, "llama.attention.head_count", 8),
                List.of(new GgufTensorInfo("blk.0.attn_q.weight", List.of(64L, 64L), GgmlType.F32.id(), 0),
                        new GgufTensorInfo("blk.2.attn_q.weight", List.of(64L, 64L), GgmlType.F32.id(), 0),
                        new GgufTensorInfo("rope_freqs.weight", List.of(4L), GgmlType.F32.id(), 0)));
        ModelFootprint f = FootprintEstimator.estimate(md);
        assertEquals(3, f.layers());
        assertEquals(List.of(64L * 64 * 4, 0L, 64L * 64 * 4), f.layerBytes());
        assertEquals(16, f.otherBytes());
    }

    @ParameterizedTest
    @CsvSource({
        "blk.0.attn_q.weight, 0",
        "blk.31.ffn_down.weight, 31",
        "blk.x.attn_q.weight, -1",
        "blk..weight, -1",
        "token_embd.weight, -1",
        "blkx.1.weight, -1",
    })
    void layerIndexFromTensorName(String name, int index) {
        assertEquals(index, FootprintEstimator.layerIndex(name));
    }

    @ParameterizedTest
    @CsvSource({"f16, F16", "Q8_0, Q8_0", " q4_0 , Q4_0", "'', F16"})
    void kvCacheTypeParsesOllamaSpelling(String s, KvCacheType type) {
        assertEquals(type, KvCacheType.parse(s));
    }

    @Test
    void unknownKvCacheTypeListsTheChoices() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KvCacheType.parse("q5_1"));
        assertTrue(e.getMessage().contains("q8_0"), e.getMessage());
    }
}
