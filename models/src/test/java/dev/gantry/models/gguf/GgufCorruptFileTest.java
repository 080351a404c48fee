package dev.gantry.models.gguf;

import dev.gantry.models.TestData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Damaged and hostile files must fail fast with {@link GgufFormatException} naming the file: never an
 * OutOfMemoryError, never a long loop, never another exception type.
 */
class GgufCorruptFileTest {

    private static final Duration FAST = Duration.ofSeconds(5);

    @TempDir
    static Path dir;
    private static byte[] tiny;
    private static long dataOffset;

    @BeforeAll
    static void load() throws IOException {
        Path file = TestData.tinyModel();
        tiny = Files.readAllBytes(file);
        dataOffset = GgufReader.readMetadata(file).dataOffset();
    }

    /** Lengths all through the header, around the start of the data section, and in the data. */
    static IntStream truncationLengths() throws IOException {
        Path file = TestData.tinyModel();
        int size = (int) Files.size(file);
        int data = (int) GgufReader.readMetadata(file).dataOffset();
        return IntStream.of(0, 1, 3, 4, 8, 16, 23, 24, 25, 100, 1_000, 5_000,
                data - 1, data, data + 1, size / 2, size - 1);
    }

    @ParameterizedTest(name = "truncated to {0} bytes")
    @MethodSource("truncationLengths")
    void truncatedCopiesAreRejected(int length) throws IOException {
        Path file = write("truncated-" + length + ".gguf", Arrays.copyOf(tiny, length));
        assertRejected(file, null);
    }

    @Test
    void wrongMagic() throws IOException {
        byte[] bytes = tiny.clone();
        bytes[0] = 'X';
        assertRejected(write("magic.gguf", bytes), "magic");
    }

    @Test
    void notAGgufAtAll() throws IOException {
        assertRejected(write("text.gguf", "hello, this is not a model at all".getBytes()), "magic");
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 4, 0x0300_0000})
    void unsupportedVersions(int version) throws IOException {
        byte[] bytes = GgufBytes.header(version, 0, 0).zeros(64).bytes();
        assertRejected(write("version-" + version + ".gguf", bytes), "version");
    }

    @Test
    void hugeDeclaredStringLength() throws IOException {
        byte[] bytes = GgufBytes.header(3, 0, 1).u64(Long.MAX_VALUE).zeros(64).bytes();
        assertRejected(write("string.gguf", bytes), "length");
        byte[] just = GgufBytes.header(3, 0, 1).u64((16L << 20) + 1).zeros(64).bytes();
        assertRejected(write("string16.gguf", just), "16 MiB");
        byte[] unsigned = GgufBytes.header(3, 0, 1).u64(-1).zeros(64).bytes();
        assertRejected(write("string-neg.gguf", unsigned), "length");
    }

    @Test
    void stringLongerThanTheFile() throws IOException {
        byte[] bytes = GgufBytes.header(3, 0, 1).u64(1_000_000).zeros(64).bytes();
        assertRejected(write("string-past-end.gguf", bytes), "bytes are left");
    }

    @Test
    void hugeArrayCount() throws IOException {
        byte[] bytes = GgufBytes.header(3, 0, 1).key("tokenizer.ggml.tokens", GgufValueType.ARRAY)
                .u32(GgufValueType.STRING.id()).u64(Long.MAX_VALUE).zeros(64).bytes();
        assertRejected(write("array.gguf", bytes), "array");
        byte[] ints = GgufBytes.header(3, 0, 1).key("a", GgufValueType.ARRAY)
                .u32(GgufValueType.UINT8.id()).u64(1L << 40).zeros(64).bytes();
        assertRejected(write("array-u8.gguf", ints), "array");
    }

    @Test
    void hugeTensorAndKeyValueCounts() throws IOException {
        assertRejected(write("tensors.gguf", GgufBytes.header(3, Long.MAX_VALUE, 0).zeros(64).bytes()), "count");
        assertRejected(write("kvs.gguf", GgufBytes.header(3, 0, -1).zeros(64).bytes()), "count");
        assertRejected(write("kvs2.gguf", GgufBytes.header(3, 0, 1000).zeros(64).bytes()), "count");
    }

    @Test
    void unknownValueType() throws IOException {
        byte[] bytes = GgufBytes.header(3, 0, 1).str("k").u32(13).zeros(16).bytes();
        assertRejected(write("type.gguf", bytes), "value type");
    }

    @Test
    void deeplyNestedArrays() throws IOException {
        GgufBytes b = GgufBytes.header(3, 0, 1).key("deep", GgufValueType.ARRAY);
        for (int i = 0; i < 100; i++) {
            b.u32(GgufValueType.ARRAY.id()).u64(1);
        }
        b.u32(GgufValueType.UINT8.id()).u64(0);
        assertRejected(write("deep.gguf", b.bytes()), "nested");
    }

    @Test
    void duplicateKey() throws IOException {
        byte[] bytes = GgufBytes.header(3, 0, 2).kvU32("a", 1).kvU32("a", 2).bytes();
        assertRejected(write("dup.gguf", bytes), "duplicate");
    }

    @Test
    void badBool() throws IOException {
        byte[] bytes = GgufBytes.header(3, 0, 1).key("b", GgufValueType.BOOL).u8(7).bytes();
        assertRejected(write("bool.gguf", bytes), "bool");
    }

    @Test
    void badAlignment() throws IOException {
        byte[] bytes = GgufBytes.header(3, 0, 1).kvU32("general.alignment", 48).bytes();
        assertRejected(write("align.gguf", bytes), "alignment");
    }

    @Test
    void tensorWithTooManyDimensions() throws IOException {
        byte[] bytes = GgufBytes.header(3, 1, 0).tensor("t", GgmlType.F32, 0, 1, 1, 1, 1, 1).zeros(64).bytes();
        assertRejected(write("dims.gguf", bytes), "dimensions");
    }

    @Test
    void tensorElementCountOverflow() throws IOException {
        byte[] bytes = GgufBytes.header(3, 1, 0)
                .tensor("t", GgmlType.F32, 0, 1L << 32, 1L << 32).zeros(64).bytes();
        assertRejected(write("overflow.gguf", bytes), "64 bits");
    }

    @Test
    void tensorDataPastTheEnd() throws IOException {
        byte[] bytes = GgufBytes.header(3, 1, 0).tensor("t", GgmlType.F32, 0, 1000).pad(32).zeros(100).bytes();
        assertRejected(write("short-data.gguf", bytes), "truncated");
    }

    @Test
    void misalignedTensorOffset() throws IOException {
        byte[] bytes = GgufBytes.header(3, 1, 0).tensor("t", GgmlType.F32, 4, 1).pad(32).zeros(64).bytes();
        assertRejected(write("misaligned.gguf", bytes), "alignment");
    }

    @Test
    void randomlyDamagedHeadersFailCleanly() throws IOException {
        // flip bytes in the header of the real model; whatever happens, only GgufFormatException may escape
        Random random = new Random(42);
        Path file = dir.resolve("fuzz.gguf");
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int i = 0; i < 300; i++) {
                byte[] bytes = tiny.clone();
                int flips = 1 + random.nextInt(4);
                for (int f = 0; f < flips; f++) {
                    bytes[random.nextInt((int) dataOffset)] = (byte) random.nextInt(256);
                }
                Files.write(file, bytes);
                try {
                    new GgufReader().read(file);
                } catch (GgufFormatException expected) {
                    // fine
                } catch (Throwable t) {
                    fail("iteration " + i + " threw " + t, t);
                }
            }
        });
    }

    private static Path write(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    private static void assertRejected(Path file, String messagePart) {
        GgufFormatException e = assertTimeoutPreemptively(FAST,
                () -> assertThrows(GgufFormatException.class, () -> GgufReader.readMetadata(file)));
        assertTrue(e.getMessage().contains(file.toString()), e::getMessage);
        if (messagePart != null) {
            assertTrue(e.getMessage().contains(messagePart), e::getMessage);
        }
    }
}
