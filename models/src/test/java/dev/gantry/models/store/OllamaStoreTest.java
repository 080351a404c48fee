package dev.gantry.models.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.gantry.models.ModelName;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OllamaStoreTest {
    @TempDir
    Path root;

    @Test
    void digestsParseBothSpellingsAndNothingElse() {
        String hex = "a".repeat(64);
        assertEquals("sha256:" + hex, Digest.parse("sha256:" + hex).toString());
        assertEquals("sha256-" + hex, Digest.parse("sha256-" + hex.toUpperCase()).fileName());
        for (String bad : List.of("", "sha256:", "sha256:../../etc/passwd", "sha256:" + "g".repeat(64),
                "sha512:" + hex, "sha256/" + hex, "/etc/passwd", "sha256:" + hex + "/..")) {
            assertThrows(IllegalArgumentException.class, () -> Digest.parse(bad), bad);
        }
    }

    @Test
    void manifestsAndBlobsGoWhereOllamaPutsThem() throws Exception {
        OllamaStore s = new OllamaStore(root);
        Layer model = s.writeBlob(MediaTypes.MODEL, "weights".getBytes(StandardCharsets.UTF_8));
        Layer config = s.writeBlob(MediaTypes.CONFIG, "{}".getBytes(StandardCharsets.UTF_8));
        s.writeManifest(ModelName.parse("Foo:Bar"), Manifest.of(config, List.of(model)));
        Path file = root.resolve("manifests/registry.ollama.ai/library/Foo/Bar"); // the case given, as Ollama keeps it
        assertTrue(Files.isRegularFile(file));
        assertTrue(Files.isRegularFile(root.resolve("blobs").resolve(model.digest().fileName())));
        String json = Files.readString(file);
        assertTrue(json.startsWith("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.MANIFEST + "\""), json);
        assertEquals(Manifest.of(config, List.of(model)), Manifest.parse(json.getBytes(StandardCharsets.UTF_8)));
        assertEquals(1, s.list().size());
        assertEquals("Foo:Bar", s.list().getFirst().name().shortName());
        // readable by all, as Ollama leaves them (a temporary file is the owner's only)
        assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(file)));
        assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(root.resolve("blobs").resolve(model.digest().fileName()))));
        // another case of the name is the same model: written over in its stored spelling, not doubled
        s.writeManifest(ModelName.parse("FOO:bar"), Manifest.of(config, List.of(model)));
        assertEquals(1, s.list().size());
        assertEquals("Foo:Bar", s.list().getFirst().name().shortName());
        assertTrue(s.find(ModelName.parse("foo:BAR")).isPresent());
    }

    @Test
    void deleteKeepsBlobsAnotherManifestUses() throws Exception {
        OllamaStore s = new OllamaStore(root);
        Layer shared = s.writeBlob(MediaTypes.MODEL, "weights".getBytes(StandardCharsets.UTF_8));
        Layer own = s.writeBlob(MediaTypes.SYSTEM, "only a".getBytes(StandardCharsets.UTF_8));
        Layer config = s.writeBlob(MediaTypes.CONFIG, "{}".getBytes(StandardCharsets.UTF_8));
        s.writeManifest(ModelName.parse("a"), Manifest.of(config, List.of(shared, own)));
        s.writeManifest(ModelName.parse("b"), Manifest.of(config, List.of(shared)));
        assertTrue(s.delete(ModelName.parse("a")));
        assertTrue(s.hasBlob(shared.digest()));
        assertTrue(s.hasBlob(config.digest()));
        assertFalse(s.hasBlob(own.digest()));
        assertFalse(Files.exists(root.resolve("manifests/registry.ollama.ai/library/a")), "empty folders go too");
        assertFalse(s.delete(ModelName.parse("a")));
    }

    /**
     * A create holds the blobs it will name: a model deleted meanwhile that shares one (two creates that quantized
     * alike) does not take it; once the create lets go, what no manifest names can be pruned.
     */
    @Test
    void aDeleteLeavesTheBlobsACreateHolds() throws Exception {
        OllamaStore s = new OllamaStore(root);
        Layer config = s.writeBlob(MediaTypes.CONFIG, "{}".getBytes(StandardCharsets.UTF_8));
        Layer weights = s.writeBlob(MediaTypes.MODEL, "quantized".getBytes(StandardCharsets.UTF_8));
        s.writeManifest(ModelName.parse("first"), Manifest.of(config, List.of(weights)));
        Layer held;
        try (OllamaStore.Pin pin = s.pin()) {
            held = s.writeBlob(MediaTypes.MODEL, "quantized".getBytes(StandardCharsets.UTF_8), pin);
            assertTrue(pin.add(config.digest()));
            assertEquals(weights.digest(), held.digest(), "the same bytes: the blob is there already");
            assertEquals(List.of(), pin.placed(), "so this hold put nothing in the store");
            assertTrue(s.delete(ModelName.parse("first")));
            assertTrue(s.hasBlob(held.digest()), "held by the create");
            s.writeManifest(ModelName.parse("second"), Manifest.of(config, List.of(held)));
        }
        assertTrue(s.delete(ModelName.parse("second")));
        assertFalse(s.hasBlob(held.digest()), "pruned once nothing holds or names it");

        // a push holds a model's blobs; the model deleted meanwhile: they go when the push lets go
        Layer pushed = s.writeBlob(MediaTypes.MODEL, "pushed".getBytes(StandardCharsets.UTF_8));
        Layer config3 = s.writeBlob(MediaTypes.CONFIG, "{}".getBytes(StandardCharsets.UTF_8)); // pruned with "second"
        s.writeManifest(ModelName.parse("third"), Manifest.of(config3, List.of(pushed)));
        try (OllamaStore.Pin pin = s.pin()) {
            pin.add(pushed.digest());
            assertTrue(s.delete(ModelName.parse("third")));
            assertTrue(s.hasBlob(pushed.digest()), "still being pushed");
        }
        assertFalse(s.hasBlob(pushed.digest()), "left for the push, then pruned");

        // uploaded again while it waits for the hold to let go: someone counts on it, it stays
        Layer again = s.writeBlob(MediaTypes.MODEL, "again".getBytes(StandardCharsets.UTF_8));
        Layer config4 = s.writeBlob(MediaTypes.CONFIG, "{}".getBytes(StandardCharsets.UTF_8));
        s.writeManifest(ModelName.parse("fourth"), Manifest.of(config4, List.of(again)));
        try (OllamaStore.Pin pin = s.pin()) {
            pin.add(again.digest());
            assertTrue(s.delete(ModelName.parse("fourth")));
            try (BlobUpload up = s.newUpload(again.digest())) {
                byte[] b = "again".getBytes(StandardCharsets.UTF_8);
                up.write(b, 0, b.length);
                up.commit();
            }
        }
        assertTrue(s.hasBlob(again.digest()), "claimed by the upload");

        Layer orphan = s.writeBlob(MediaTypes.MODEL, "a failed create's".getBytes(StandardCharsets.UTF_8));
        try (OllamaStore.Pin pin = s.pin()) {
            pin.add(orphan.digest());
            s.pruneUnreferenced(List.of(orphan.digest()));
            assertTrue(s.hasBlob(orphan.digest()), "another create holds it");
        }
        s.pruneUnreferenced(List.of(orphan.digest()));
        assertFalse(s.hasBlob(orphan.digest()));
    }

    /**
     * Replacing a model's manifest (create again under its name) removes the old version's blobs that nothing else
     * references, as Ollama's create does; blobs still in use, by the new version or another model, stay.
     */
    @Test
    void replacingAManifestRemovesTheOldVersionsUnusedBlobs() throws Exception {
        OllamaStore s = new OllamaStore(root);
        Layer oldWeights = s.writeBlob(MediaTypes.MODEL, "old weights".getBytes(StandardCharsets.UTF_8));
        Layer newWeights = s.writeBlob(MediaTypes.MODEL, "new weights".getBytes(StandardCharsets.UTF_8));
        Layer system = s.writeBlob(MediaTypes.SYSTEM, "kept: both versions use it".getBytes(StandardCharsets.UTF_8));
        Layer template = s.writeBlob(MediaTypes.TEMPLATE, "kept: model b uses it".getBytes(StandardCharsets.UTF_8));
        Layer config = s.writeBlob(MediaTypes.CONFIG, "{}".getBytes(StandardCharsets.UTF_8));
        Layer newConfig = s.writeBlob(MediaTypes.CONFIG, "{\"v\":2}".getBytes(StandardCharsets.UTF_8));
        s.writeManifest(ModelName.parse("a"), Manifest.of(config, List.of(oldWeights, system, template)));
        s.writeManifest(ModelName.parse("b"), Manifest.of(newConfig, List.of(template)));
        s.writeManifest(ModelName.parse("a"), Manifest.of(newConfig, List.of(newWeights, system)));
        assertFalse(s.hasBlob(oldWeights.digest()), "the old weights go");
        assertFalse(s.hasBlob(config.digest()), "the old config goes");
        assertTrue(s.hasBlob(newWeights.digest()));
        assertTrue(s.hasBlob(system.digest()));
        assertTrue(s.hasBlob(template.digest()));
        assertTrue(s.hasBlob(newConfig.digest()));
        assertEquals(List.of(newWeights, system), s.find(ModelName.parse("a")).orElseThrow().manifest().layers());
    }

    @Test
    void aStreamThatDoesNotHashToItsDigestIsNotStored() throws Exception {
        OllamaStore s = new OllamaStore(root);
        Digest claimed = Digest.parse("sha256:" + "0".repeat(64));
        assertThrows(DigestMismatchException.class,
                () -> s.writeBlob(new ByteArrayInputStream(new byte[] {1, 2, 3}), claimed));
        assertFalse(s.hasBlob(claimed));
        try (var files = Files.list(root.resolve("blobs"))) {
            assertEquals(0, files.count(), "no temporary file left");
        }
    }

    @Test
    void aManifestNamingAMissingBlobIsRefused() {
        OllamaStore s = new OllamaStore(root);
        Layer ghost = new Layer(MediaTypes.MODEL, Digest.parse("sha256:" + "1".repeat(64)), 5);
        assertThrows(java.io.IOException.class, () -> s.writeManifest(ModelName.parse("x"), Manifest.of(ghost, List.of())));
        assertEquals(List.of(), s.list());
    }
}
