package dev.gantry.models.store;

import dev.gantry.models.ModelName;

import java.nio.file.Path;
import java.time.Instant;
import java.util.Objects;

/**
 * A manifest as found in the store.
 *
 * @param name       the model it names
 * @param manifest   parsed
 * @param digest     SHA-256 of the manifest file's bytes: the model's digest as Ollama reports it
 * @param modifiedAt the file's modification time ({@code modified_at} in {@code /api/tags})
 * @param path       the file
 */
public record StoredManifest(ModelName name, Manifest manifest, Digest digest, Instant modifiedAt, Path path) {
    public StoredManifest {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(manifest, "manifest");
        Objects.requireNonNull(digest, "digest");
        Objects.requireNonNull(modifiedAt, "modifiedAt");
        Objects.requireNonNull(path, "path");
    }
}
