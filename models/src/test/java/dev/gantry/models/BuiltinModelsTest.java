package dev.gantry.models;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class BuiltinModelsTest {

    @TempDir
    Path cache;

    @Test
    void extractsOnceAndReusesTheCopy() throws IOException {
        Path first = BuiltinModels.extract(cache);
        assertEquals(cache.resolve("models").resolve("stories260K.gguf"), first);
        assertEquals(BuiltinModels.SIZE, Files.size(first));
        assertEquals(BuiltinModels.SHA256, Sha256.hex(first));

        FileTime old = FileTime.fromMillis(1_000_000_000_000L);
        Files.setLastModifiedTime(first, old);
        Path second = BuiltinModels.extract(cache);
        assertEquals(first, second);
        assertEquals(old, Files.getLastModifiedTime(second), "a good copy is not rewritten");
        try (var files = Files.list(cache.resolve("models"))) {
            assertEquals(1, files.count(), "no temporary files are left behind");
        }
    }

    @Test
    void replacesADamagedCopy() throws IOException {
        Path file = BuiltinModels.extract(cache);
        Files.writeString(file, "garbage");
        BuiltinModels.extract(cache);
        assertEquals(BuiltinModels.SHA256, Sha256.hex(file));

        // same size, one byte different: only the digest can tell
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length / 2] ^= 1;
        Files.write(file, bytes);
        BuiltinModels.extract(cache);
        assertEquals(BuiltinModels.SHA256, Sha256.hex(file));
    }

    @Test
    void extractAllNamesTheDefaultModel() throws IOException {
        Map<ModelName, Path> all = BuiltinModels.extractAll(cache);
        assertEquals(Map.of(ModelName.parse("stories260k:latest"), BuiltinModels.extract(cache)), all);
        assertEquals("stories260k:latest", BuiltinModels.defaultModelName().shortName());
    }

    @Test
    void defaultCacheDirFollowsXdg() {
        assertEquals(Path.of("/x/cache/gantry"),
                BuiltinModels.defaultCacheDir(Map.of("XDG_CACHE_HOME", "/x/cache", "HOME", "/home/u")));
        assertEquals(Path.of("/home/u/.cache/gantry"),
                BuiltinModels.defaultCacheDir(Map.of("HOME", "/home/u")));
        assertEquals(Path.of("/home/u/.cache/gantry"),
                BuiltinModels.defaultCacheDir(Map.of("XDG_CACHE_HOME", "relative/path", "HOME", "/home/u")),
                "the XDG spec says relative paths are ignored");
        assertEquals(Path.of("/home/u/.cache/gantry"),
                BuiltinModels.defaultCacheDir(Map.of("XDG_CACHE_HOME", "", "HOME", "/home/u")));
        assertEquals(Path.of(System.getProperty("user.home"), ".cache", "gantry"),
                BuiltinModels.defaultCacheDir(Map.of()));
    }
}
