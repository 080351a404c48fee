package dev.gantry.models;

import dev.gantry.models.gguf.GgufReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class LocalModelTest {

    @Test
    void digestIsTheFilesSha256() throws Exception {
        Path file = TestData.tinyModel();
        LocalModel m = new LocalModel(ModelName.parse("stories260k"), file, Files.size(file),
                Files.getLastModifiedTime(file).toInstant(), GgufReader.readMetadata(file));
        String expected = "sha256:" + BuiltinModels.SHA256;
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<String>> digests = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                digests.add(pool.submit(m::digest));
            }
            for (Future<String> d : digests) {
                assertEquals(expected, d.get());
            }
        }
    }

    @Test
    void aFileChangedSinceTheScanIsNotDigested(@TempDir Path dir) throws IOException {
        Path file = Files.copy(TestData.tinyModel(), dir.resolve("m.gguf"));
        LocalModel m = new LocalModel(ModelName.parse("m"), file, Files.size(file),
                Files.getLastModifiedTime(file).toInstant(), GgufReader.readMetadata(file));
        Files.writeString(file, "replaced");
        assertThrows(UncheckedIOException.class, m::digest);
    }

    /** The key split measurements are remembered under needs no read of a loose file, and follows its state. */
    @Test
    void aLooseFilesContentKeyComesFromItsPathSizeAndTime(@TempDir Path dir) throws IOException {
        Path file = Files.copy(TestData.tinyModel(), dir.resolve("m.gguf"));
        Path other = Files.copy(TestData.tinyModel(), dir.resolve("n.gguf"));
        LocalModel m = new LocalModel(ModelName.parse("m"), file, Files.size(file),
                Files.getLastModifiedTime(file).toInstant(), GgufReader.readMetadata(file));
        String key = m.contentKey();
        Files.delete(file); // no read of the file: the key is there without it
        assertEquals(key, m.contentKey());
        assertEquals(key, new LocalModel(ModelName.parse("other-name"), file, m.sizeBytes(), m.modifiedAt(),
                m.metadata()).contentKey());
        assertEquals(true, key.matches("file-[0-9a-f]{32}"), key);
        LocalModel n = new LocalModel(ModelName.parse("n"), other, Files.size(other),
                Files.getLastModifiedTime(other).toInstant(), m.metadata());
        assertNotEquals(key, n.contentKey());
        assertNotEquals(key, new LocalModel(ModelName.parse("m"), file, m.sizeBytes(), m.modifiedAt().plusSeconds(1),
                m.metadata()).contentKey());
    }
}
