package dev.gantry.models;

import dev.gantry.models.gguf.GgufMetadata;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A GGUF model file on local disk, with its parsed header.
 *
 * <p>Immutable and thread-safe. {@link #digest()} reads the whole file the first time it is asked for (a
 * 40 GB model takes a while), so it is computed lazily, once per file state, and shared by every
 * {@code LocalModel} of the same path, size and modification time.
 *
 * @param name       the name it is served under
 * @param path       the GGUF file
 * @param sizeBytes  file size when it was scanned
 * @param modifiedAt file modification time when it was scanned
 * @param metadata   its parsed header
 * @param layers     what its Ollama manifest adds (template, system, parameters, ...); {@link ModelLayers#NONE}
 *                   for a loose GGUF file
 */
public record LocalModel(ModelName name, Path path, long sizeBytes, Instant modifiedAt, GgufMetadata metadata,
                         ModelLayers layers) {

    /**
     * Digests by path. A record cannot hold a lazy field, so the cache lives here; one entry per path,
     * replaced when the file's size or time changes, keeps it bounded by the files ever listed.
     */
    private static final ConcurrentHashMap<Path, LazyDigest> DIGESTS = new ConcurrentHashMap<>();

    public LocalModel {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(modifiedAt, "modifiedAt");
        Objects.requireNonNull(metadata, "metadata");
        Objects.requireNonNull(layers, "layers");
        if (sizeBytes < 0) {
            throw new IllegalArgumentException("negative size " + sizeBytes);
        }
    }

    /** A loose GGUF file, with no manifest. */
    public LocalModel(ModelName name, Path path, long sizeBytes, Instant modifiedAt, GgufMetadata metadata) {
        this(name, path, sizeBytes, modifiedAt, metadata, ModelLayers.NONE);
    }

    /** The Ollama {@code TEMPLATE} layer (Go template syntax), if the model's manifest has one. */
    public Optional<String> ollamaTemplate() {
        return layers.template();
    }

    /** The {@code SYSTEM} layer, if any. */
    public Optional<String> system() {
        return layers.system();
    }

    /** The {@code PARAMETER} layer: default options, under each request's {@code options}. Empty if none. */
    public Map<String, Object> parameters() {
        return layers.parameters();
    }

    /** The {@code MESSAGE} layer: messages put before a chat's own. Empty if none. */
    public List<ModelLayers.Message> messages() {
        return layers.messages();
    }

    /** The size Ollama reports: all blobs of the manifest for a store model, else the file's size. */
    public long listedSize() {
        return layers.fromStore() ? layers.storeSize() : sizeBytes;
    }

    /**
     * The digest Ollama reports, {@code sha256:<64 hex>}: of the manifest for a model from the store, of the
     * file's bytes for a loose GGUF file.
     *
     * @throws UncheckedIOException if the file cannot be read, or has changed since it was scanned
     */
    public String digest() {
        if (layers.manifestDigest().isPresent()) {
            return layers.manifestDigest().get();
        }
        Path key = path.toAbsolutePath().normalize();
        LazyDigest lazy = DIGESTS.compute(key, (k, old) ->
                old != null && old.sizeBytes == sizeBytes && old.modifiedAt.equals(modifiedAt)
                        ? old : new LazyDigest(k, sizeBytes, modifiedAt));
        return "sha256:" + lazy.get();
    }

    /**
     * A key for what is remembered about the model's content (measured split rates): its digest where that needs no
     * read of the file (a model of Ollama's store), otherwise {@code file-} and a hash of the file's path, size and
     * modification time. Hashing a loose GGUF of 150 GB only to look a measurement up would take minutes.
     */
    public String contentKey() {
        if (layers.manifestDigest().isPresent()) {
            return layers.manifestDigest().get();
        }
        MessageDigest d = Sha256.newDigest();
        d.update((path.toAbsolutePath().normalize() + "\n" + sizeBytes + "\n" + modifiedAt)
                .getBytes(StandardCharsets.UTF_8));
        return "file-" + HexFormat.of().formatHex(d.digest(), 0, 16);
    }

    /** The digest of one file state, computed by the first caller; later callers wait for it, then share it. */
    private static final class LazyDigest {
        private final Path path;
        private final long sizeBytes;
        private final Instant modifiedAt;
        private String hex; // guarded by this

        LazyDigest(Path path, long sizeBytes, Instant modifiedAt) {
            this.path = path;
            this.sizeBytes = sizeBytes;
            this.modifiedAt = modifiedAt;
        }

        synchronized String get() {
            if (hex == null) {
                try {
                    String computed = Sha256.hex(path);
                    BasicFileAttributes after = Files.readAttributes(path, BasicFileAttributes.class);
                    // a file rewritten while we hashed it would give a digest of neither version
                    if (after.size() != sizeBytes || !after.lastModifiedTime().toInstant().equals(modifiedAt)) {
                        throw new IOException(path + " changed since it was scanned; list the models again");
                    }
                    hex = computed;
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot compute the digest of " + path, e);
                }
            }
            return hex;
        }
    }
}
