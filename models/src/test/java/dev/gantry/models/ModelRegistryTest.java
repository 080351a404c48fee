package dev.gantry.models;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelRegistryTest {

    @TempDir
    Path tmp;
    private Path folder;
    private byte[] tiny;
    private final List<String> warnings = Collections.synchronizedList(new ArrayList<>());
    private final Logger julLogger = Logger.getLogger(ModelRegistry.class.getName());
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            warnings.add(r.getMessage());
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void setUp() throws IOException {
        julLogger.addHandler(capture);
        // the warnings are expected here; keep them out of the build log
        julLogger.setUseParentHandlers(false);
        folder = Files.createDirectory(tmp.resolve("models"));
        tiny = Files.readAllBytes(TestData.tinyModel());
    }

    @AfterEach
    void tearDown() {
        julLogger.removeHandler(capture);
        julLogger.setUseParentHandlers(true);
    }

    @Test
    void listsGgufFilesAndSkipsEverythingElse() throws IOException {
        Files.write(folder.resolve("stories260K.gguf"), tiny);
        Files.write(folder.resolve("Other.GGUF"), tiny);
        Files.write(folder.resolve("corrupt.gguf"), Arrays.copyOf(tiny, 5000));
        Files.write(folder.resolve("notes.txt"), tiny);
        Files.write(folder.resolve("bad name.gguf"), tiny);
        Files.write(folder.resolve(".gguf"), tiny);
        Files.createDirectory(folder.resolve("folder.gguf"));
        Path sub = Files.createDirectory(folder.resolve("sub"));
        Files.write(sub.resolve("nested.gguf"), tiny);

        ModelRegistry registry = new ModelRegistry(folder);
        List<LocalModel> models = registry.list();

        assertEquals(List.of("other:latest", "stories260k:latest"), shortNames(models));
        LocalModel m = models.get(1);
        assertEquals(folder.resolve("stories260K.gguf"), m.path());
        assertEquals(tiny.length, m.sizeBytes());
        assertEquals(Files.getLastModifiedTime(m.path()).toInstant(), m.modifiedAt());
        assertEquals(292_800L, m.metadata().parameterCount());

        assertTrue(warnings.stream().anyMatch(w -> w.contains("corrupt.gguf") && w.contains("truncated")),
                warnings::toString);
        assertTrue(warnings.stream().anyMatch(w -> w.contains("bad name.gguf") && w.contains("not a valid model name")),
                warnings::toString);
        int logged = warnings.size();
        registry.list();
        registry.list();
        assertEquals(logged, warnings.size(), () -> "warnings repeat on every list(): " + warnings);
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "stories260k", "stories260k:latest", "library/stories260k", "registry.ollama.ai/library/stories260k:latest",
        "STORIES260K", "Library/Stories260K:Latest"})
    void resolvesEveryFormOfTheName(String name) throws IOException {
        Files.write(folder.resolve("stories260K.gguf"), tiny);
        Optional<LocalModel> m = new ModelRegistry(folder).resolve(name);
        assertEquals("stories260k:latest", m.orElseThrow().name().shortName());
    }

    @Test
    void resolveOfAnUnknownOrInvalidName() throws IOException {
        Files.write(folder.resolve("stories260K.gguf"), tiny);
        ModelRegistry registry = new ModelRegistry(folder);
        assertEquals(Optional.empty(), registry.resolve("stories260k:other"));
        assertEquals(Optional.empty(), registry.resolve("someone/stories260k"));
        assertEquals(Optional.empty(), registry.resolve("missing"));
        assertThrows(IllegalArgumentException.class, () -> registry.resolve("../../etc/passwd"));
        assertThrows(IllegalArgumentException.class, () -> registry.resolve(""));
    }

    @Test
    void absentOrMissingFolderIsEmpty() {
        assertEquals(List.of(), new ModelRegistry(tmp.resolve("nope")).list());
        assertEquals(List.of(), new ModelRegistry(null).list());
        assertEquals(Optional.empty(), new ModelRegistry(null).resolve("stories260k"));
    }

    @Test
    void aFileInsteadOfAFolderWarnsOnce() throws IOException {
        Path file = Files.write(tmp.resolve("file"), tiny);
        ModelRegistry registry = new ModelRegistry(file);
        assertEquals(List.of(), registry.list());
        assertEquals(List.of(), registry.list());
        assertEquals(1, warnings.stream().filter(w -> w.contains(file.toString())).count(), warnings::toString);
    }

    @Test
    void builtinsAreListedAndShadowedByFolderModels() throws IOException {
        Map<ModelName, Path> builtins = BuiltinModels.extractAll(tmp.resolve("cache"));
        ModelRegistry registry = new ModelRegistry(folder, builtins);
        LocalModel builtin = registry.resolve(BuiltinModels.DEFAULT_MODEL).orElseThrow();
        assertEquals(builtins.get(BuiltinModels.defaultModelName()), builtin.path());

        Path mine = Files.write(folder.resolve("Stories260k.gguf"), tiny);
        assertEquals(mine, registry.resolve("stories260k").orElseThrow().path());
        assertEquals(1, registry.list().size());

        Files.delete(mine);
        assertEquals(builtin.path(), registry.resolve("stories260k").orElseThrow().path());
    }

    @Test
    void parsesOnlyWhenTheFileChanges() throws IOException {
        Path file = Files.write(folder.resolve("m.gguf"), tiny);
        ModelRegistry registry = new ModelRegistry(folder);
        LocalModel first = registry.resolve("m").orElseThrow();
        assertSame(first.metadata(), registry.resolve("m").orElseThrow().metadata());

        // a new modification time is a new version of the file
        Files.setLastModifiedTime(file, FileTime.fromMillis(first.modifiedAt().toEpochMilli() - 60_000));
        LocalModel touched = registry.resolve("m").orElseThrow();
        assertNotSame(first.metadata(), touched.metadata());

        // broken, it disappears; repaired, it comes back
        Files.write(file, Arrays.copyOf(tiny, 100));
        assertEquals(Optional.empty(), registry.resolve("m"));
        Files.write(file, tiny);
        Files.setLastModifiedTime(file, FileTime.fromMillis(first.modifiedAt().toEpochMilli() + 60_000));
        assertEquals(292_800L, registry.resolve("m").orElseThrow().metadata().parameterCount());
    }

    @Test
    void sameNameInTwoCasesKeepsOneStably() throws IOException {
        Files.write(folder.resolve("Dup.gguf"), tiny);
        Files.write(folder.resolve("dup.GGUF"), tiny);
        ModelRegistry registry = new ModelRegistry(folder);
        assertEquals(folder.resolve("Dup.gguf"), registry.resolve("dup").orElseThrow().path());
        assertEquals(1, registry.list().size());
        assertTrue(warnings.stream().anyMatch(w -> w.contains("dup.GGUF")), warnings::toString);
    }

    @Test
    void concurrentListingIsSafe() throws Exception {
        for (int i = 0; i < 4; i++) {
            Files.write(folder.resolve("m" + i + ".gguf"), tiny);
        }
        ModelRegistry registry = new ModelRegistry(folder);
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<List<LocalModel>>> results = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                results.add(pool.submit(registry::list));
            }
            for (Future<List<LocalModel>> r : results) {
                assertEquals(List.of("m0:latest", "m1:latest", "m2:latest", "m3:latest"), shortNames(r.get()));
            }
        }
    }

    private static List<String> shortNames(List<LocalModel> models) {
        return models.stream().map(m -> m.name().shortName()).toList();
    }
}
