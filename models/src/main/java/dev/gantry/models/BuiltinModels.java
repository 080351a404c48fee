package dev.gantry.models;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;

/**
 * The models that ship inside the jar: today one, the 260K-parameter TinyStories llama, so a fresh
 * install can answer a request with no download.
 *
 * <p>llama.cpp loads models from files, so the resource is copied to a cache folder first. The copy is
 * written to a temporary file and moved into place, so a crash or a second process never leaves (or
 * reads) a half-written model; an existing copy is reused when its size and SHA-256 match.
 *
 * <p>Stateless; all methods are thread-safe, and safe across processes sharing one cache folder.
 */
public final class BuiltinModels {

    /** The name clients use for the built-in model when they give none. */
    public static final String DEFAULT_MODEL = "stories260k";
    /** The classpath resource holding it. */
    public static final String RESOURCE = "gantry/models/stories260K.gguf";
    /** Its file name in the cache, {@code <cacheDir>/models/stories260K.gguf}. */
    public static final String FILE_NAME = "stories260K.gguf";
    /** Its SHA-256, from PROVENANCE.md beside the resource. */
    public static final String SHA256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
    /** Its size in bytes. */
    public static final long SIZE = 1_185_376L;

    private BuiltinModels() {
    }

    /** {@code stories260k:latest} in the default library. */
    public static ModelName defaultModelName() {
        return ModelName.of(DEFAULT_MODEL, ModelName.DEFAULT_TAG);
    }

    /**
     * Extracts every built-in model into {@code cacheDir} and returns them by name, ready for
     * {@link ModelRegistry}.
     */
    public static Map<ModelName, Path> extractAll(Path cacheDir) throws IOException {
        return Map.of(defaultModelName(), extract(cacheDir));
    }

    /**
     * Copies the built-in model to {@code cacheDir/models/stories260K.gguf} unless a good copy is already
     * there, and returns that path. A copy of the wrong size or digest is replaced.
     *
     * @throws IOException if the folder cannot be written, or the resource is missing or not the expected
     *                     file (a broken build)
     */
    public static Path extract(Path cacheDir) throws IOException {
        Objects.requireNonNull(cacheDir, "cacheDir");
        Path dir = cacheDir.resolve("models");
        Path target = dir.resolve(FILE_NAME);
        if (isIntact(target)) {
            return target;
        }
        Files.createDirectories(dir);
        // the temp file sits beside the target so the move is a rename within one file system
        Path tmp = Files.createTempFile(dir, "." + FILE_NAME + ".", ".tmp");
        try {
            String sha = copyResource(tmp);
            if (!SHA256.equals(sha)) {
                throw new IOException("built-in model resource " + RESOURCE + " has sha256 " + sha
                        + ", expected " + SHA256 + "; the jar is damaged");
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            return target;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * The cache folder: {@code $XDG_CACHE_HOME/gantry} when that is set to an absolute path (the XDG
     * spec says to ignore relative ones), else {@code $HOME/.cache/gantry}, else under the JVM's
     * {@code user.home}. The environment is passed in so that callers and tests choose it.
     */
    public static Path defaultCacheDir(Map<String, String> env) {
        String xdg = env.get("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank() && Path.of(xdg).isAbsolute()) {
            return Path.of(xdg, "gantry");
        }
        String home = env.get("HOME");
        if (home == null || home.isBlank()) {
            home = System.getProperty("user.home");
        }
        return Path.of(home, ".cache", "gantry");
    }

    private static boolean isIntact(Path file) throws IOException {
        if (!Files.isRegularFile(file) || Files.size(file) != SIZE) {
            return false;
        }
        // hashing 1.2 MB costs a few ms, and catches a copy damaged in place
        return SHA256.equals(Sha256.hex(file));
    }

    private static String copyResource(Path to) throws IOException {
        MessageDigest md = Sha256.newDigest();
        try (InputStream in = BuiltinModels.class.getClassLoader().getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IOException("built-in model resource " + RESOURCE + " is not on the classpath");
            }
            try (OutputStream out = new DigestOutputStream(Files.newOutputStream(to), md)) {
                in.transferTo(out);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
