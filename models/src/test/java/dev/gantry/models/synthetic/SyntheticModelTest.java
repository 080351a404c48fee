package dev.gantry.models.synthetic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.models.TestData;
import dev.gantry.models.gguf.GgmlType;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.GgufReader;
import dev.gantry.models.gguf.GgufTensorInfo;
import dev.gantry.models.gguf.GgufValueType;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The synthetic model writer produces a GGUF the reader reads back with the shapes, types and tokenizer asked for. */
class SyntheticModelTest {
    @Test
    void writesALlamaShapedModelWithTheVocabularysTokenizer(@TempDir Path dir) throws Exception {
        Path vocab = TestData.vocab("llama-spm");
        Path out = dir.resolve("tiny.gguf");
        long size = SyntheticModel.write(SyntheticModel.TINY, vocab, out, GgmlType.Q4_0);
        assertEquals(Files.size(out), size);
        GgufMetadata m = GgufReader.readMetadata(out);
        GgufMetadata v = new GgufReader(Integer.MAX_VALUE).read(vocab);
        assertEquals("llama", m.architecture());
        assertEquals(2, m.blockCount().orElseThrow());
        assertEquals(256, m.embeddingLength().orElseThrow());
        assertEquals(2, m.headCountKv().orElseThrow());
        assertEquals("Q4_0", m.quantizationLevel());
        assertEquals(v.vocabularySize(), m.vocabularySize());
        assertEquals(v.getString("tokenizer.ggml.model"), m.getString("tokenizer.ggml.model"));
        assertEquals(v.typeOf("tokenizer.ggml.bos_token_id"), m.typeOf("tokenizer.ggml.bos_token_id"));
        assertEquals(GgufValueType.UINT32, m.typeOf("llama.block_count").orElseThrow());
        assertEquals(3 + 2 * 9, m.tensorCount());
        GgufTensorInfo embd = m.tensors().getFirst();
        assertEquals("token_embd.weight", embd.name());
        assertEquals(GgmlType.Q4_0, embd.type().orElseThrow());
        assertEquals(java.util.List.of(256L, v.vocabularySize()), embd.dimensions());
        // every tensor's data lies inside the file, aligned, and the data ends where the file ends
        long end = 0;
        for (GgufTensorInfo t : m.tensors()) {
            assertEquals(0, t.offset() % 32, t.name());
            end = Math.max(end, m.dataOffset() + t.offset() + t.byteSize().orElseThrow());
        }
        assertTrue(end <= Files.size(out) && Files.size(out) - end < 32);
    }

    @Test
    void zeroWeightsLeaveHolesAndReadBackAsZeros(@TempDir Path dir) throws Exception {
        Path vocab = TestData.vocab("llama-spm");
        Path random = dir.resolve("random.gguf");
        Path zeros = dir.resolve("zeros.gguf");
        SyntheticModel.Shape shape = SyntheticModel.shape("tiny:3");
        long randomSize = SyntheticModel.write(shape, vocab, random, GgmlType.Q8_0, false);
        long zeroSize = SyntheticModel.write(shape, vocab, zeros, GgmlType.Q8_0, true);
        assertEquals(randomSize, zeroSize, "the same layout, only the values differ");
        assertEquals(Files.size(zeros), zeroSize);
        GgufMetadata m = GgufReader.readMetadata(zeros);
        assertEquals(3, m.blockCount().orElseThrow());
        assertEquals(3 + 3 * 9, m.tensorCount());
        byte[] all = Files.readAllBytes(zeros);
        for (GgufTensorInfo t : m.tensors()) {
            long at = m.dataOffset() + t.offset();
            long n = t.byteSize().orElseThrow();
            boolean norm = t.name().endsWith("norm.weight");
            for (long i = at; i < at + n; i += norm ? 4 : 1) {
                if (norm) {
                    assertEquals(1f, java.nio.ByteBuffer.wrap(all, (int) i, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                            .getFloat(), t.name());
                } else if (all[(int) i] != 0) {
                    throw new AssertionError(t.name() + " has a non-zero byte at " + (i - at));
                }
            }
        }
        // the last tensor (output.weight) is a hole: the file still ends where its data ends
        GgufTensorInfo last = m.tensors().getLast();
        assertEquals("output.weight", last.name());
        assertTrue(Files.size(zeros) >= m.dataOffset() + last.offset() + last.byteSize().orElseThrow());
    }

    @Test
    void shapesByNameAndLayerCount() {
        assertEquals(SyntheticModel.LLAMA3_70B, SyntheticModel.shape("llama3-70b"));
        SyntheticModel.Shape s = SyntheticModel.shape("llama3-405b:86");
        assertEquals(86, s.layers());
        assertEquals(16384, s.embedding());
        assertEquals("llama3-405b-86l", s.name());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SyntheticModel.shape("llama3-405b:0"));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SyntheticModel.shape("gpt-5"));
    }
}
