package dev.gantry.models.synthetic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.models.TestData;
import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.GgufReader;
import dev.gantry.models.gguf.GgufTensorInfo;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The synthetic BERT writer produces what llama.cpp's bert architecture loads: its keys and tensors. */
class SyntheticBertTest {
    @Test
    void writesABertWithThePoolingTypeAndTheWordPieceTokenizer(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("bert.gguf");
        SyntheticBert.write(SyntheticBert.TINY, TestData.vocab("bert-bge"), out, GgmlType.F16,
                SyntheticBert.POOLING_CLS);
        GgufMetadata m = GgufReader.readMetadata(out);
        assertEquals("bert", m.architecture());
        assertEquals(2L, m.getLong("bert.pooling_type").orElseThrow());
        assertEquals(Boolean.FALSE, m.get("bert.attention.causal").orElseThrow());
        assertEquals("bert", m.getString("tokenizer.ggml.model").orElseThrow());
        assertEquals(2L, m.getLong("tokenizer.ggml.token_type_count").orElseThrow());
        assertEquals(512, m.contextLength().orElseThrow());
        // 4 embedding tensors and norms, then 16 a block
        assertEquals(5 + 2 * 16, m.tensorCount());
        GgufTensorInfo pos = m.tensors().stream().filter(t -> t.name().equals("position_embd.weight")).findFirst()
                .orElseThrow();
        assertEquals(List.of(64L, 512L), pos.dimensions());
        GgufTensorInfo up = m.tensors().stream().filter(t -> t.name().equals("blk.1.ffn_up.weight")).findFirst()
                .orElseThrow();
        assertEquals(List.of(64L, 256L), up.dimensions());
        assertEquals(GgmlType.F16, up.type().orElseThrow());
    }

    @Test
    void writesANomicBertWithRotaryPositionsAndAFusedProjection(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("nomic.gguf");
        SyntheticBert.write(SyntheticBert.NOMIC_TINY, TestData.vocab("bert-bge"), out, GgmlType.F32,
                SyntheticBert.POOLING_MEAN);
        GgufMetadata m = GgufReader.readMetadata(out);
        assertEquals("nomic-bert", m.architecture());
        assertEquals(2048, m.contextLength().orElseThrow());
        List<String> names = m.tensors().stream().map(GgufTensorInfo::name).toList();
        assertTrue(names.contains("blk.0.attn_qkv.weight") && names.contains("blk.1.ffn_gate.weight"), names.toString());
        assertTrue(!names.contains("position_embd.weight") && !names.contains("blk.0.attn_q.weight"), names.toString());
        assertEquals(List.of(64L, 192L), m.tensors().stream().filter(t -> t.name().equals("blk.0.attn_qkv.weight"))
                .findFirst().orElseThrow().dimensions());
    }

    @Test
    void refusesQuantizedWeightsAndOtherTokenizers(@TempDir Path dir) {
        assertThrows(IllegalArgumentException.class, () -> SyntheticBert.write(SyntheticBert.TINY,
                TestData.vocab("bert-bge"), dir.resolve("a.gguf"), GgmlType.Q4_0, SyntheticBert.POOLING_MEAN));
        assertThrows(IllegalArgumentException.class, () -> SyntheticBert.write(SyntheticBert.TINY,
                TestData.vocab("llama-spm"), dir.resolve("b.gguf"), GgmlType.F16, SyntheticBert.POOLING_MEAN));
        assertEquals(SyntheticBert.MXBAI_EMBED_LARGE, SyntheticBert.shape("mxbai-embed-large"));
    }
}
