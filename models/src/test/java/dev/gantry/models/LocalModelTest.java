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
}
