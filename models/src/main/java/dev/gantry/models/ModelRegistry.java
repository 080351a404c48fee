package dev.gantry.models;

import dev.gantry.models.gguf.GgufFormatException;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.GgufReader;
import dev.gantry.models.store.Layer;
import dev.gantry.models.store.MediaTypes;
import dev.gantry.models.store.OllamaStore;
import dev.gantry.models.store.StoreLayers;
import dev.gantry.models.store.StoredManifest;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The models this server can run: every {@code *.gguf} file at the top level of one folder, plus the
 * built-in models it was given.
 *
 * <p>A file {@code Name.gguf} (any case of the extension; regular files, symbolic links to them included)
 * is served as {@code name:latest} in the default library. Folder models shadow built-in models of the
 * same name. Files whose base name is not a valid model name, and files that cannot be read or parsed, are
 * skipped with one warning per file version; they never make {@link #list()} fail, so one bad download
 * cannot hide every other model.
 *
 * <p>{@link #list()} rescans the folder on every call, so files copied in or removed show up without a
 * restart, but it parses a file only when its (path, size, modification time) is new.
 *
 * <p>Thread-safe: any number of threads may call {@link #list()} and {@link #resolve(String)} at once.
 * Two threads that meet a new file together may both parse it; the result is the same.
 */
public final class ModelRegistry {

    private static final System.Logger LOG = System.getLogger(ModelRegistry.class.getName());
    private static final String EXTENSION = ".gguf";

    private final Path folder;
    private final OllamaStore store;
    private final Map<ModelName, Path> builtins;
    private final GgufReader reader;
    /** Parse results by path, valid while the file's size and time are unchanged; failures too, so they warn once. */
    private final ConcurrentHashMap<Path, Entry> cache = new ConcurrentHashMap<>();
    /** The small layers of each manifest, by manifest digest (a manifest's content never changes under its digest). */
    private final ConcurrentHashMap<String, ModelLayers> layerCache = new ConcurrentHashMap<>();
    /** Warnings already logged per file (bad name, duplicate, unreadable), so each is logged once. */
    private final ConcurrentHashMap<Path, Set<String>> warnings = new ConcurrentHashMap<>();
    /** The last folder problem logged, so a missing permission is reported once, not per request. */
    private volatile String lastFolderProblem;

    /** A registry of the files in {@code folder} (which may be null or absent: no folder models). */
    public ModelRegistry(Path folder) {
        this(folder, Map.of());
    }

    /**
     * A registry of the files in {@code folder} plus {@code builtins}, e.g. from
     * {@link BuiltinModels#extractAll(Path)}.
     */
    public ModelRegistry(Path folder, Map<ModelName, Path> builtins) {
        this.folder = folder;
        this.store = folder == null ? null : new OllamaStore(folder);
        this.builtins = Map.copyOf(builtins);
        this.reader = new GgufReader();
    }

    /** The models folder, or empty if there is none. */
    public Optional<Path> folder() {
        return Optional.ofNullable(folder);
    }

    /** Ollama's manifest/blob store in the models folder, or empty if there is no folder. */
    public Optional<OllamaStore> store() {
        return Optional.ofNullable(store);
    }

    /**
     * Every usable model, sorted by {@link ModelName#shortName()}: the built-in ones, the {@code *.gguf} files of
     * the folder, and the models of Ollama's store in it, each shadowing the one before under the same name.
     * Never throws for a bad file.
     */
    public List<LocalModel> list() {
        Set<Path> seen = new HashSet<>();
        Map<ModelName, LocalModel> byName = new LinkedHashMap<>();
        for (Map.Entry<ModelName, Path> b : builtins.entrySet()) {
            seen.add(b.getValue());
            load(b.getValue(), b.getKey()).ifPresent(m -> byName.put(m.name(), m));
        }
        Set<ModelName> fromFolder = new HashSet<>();
        for (Path file : folderFiles()) {
            seen.add(file);
            Optional<ModelName> name = nameFor(file);
            if (name.isEmpty()) {
                continue;
            }
            Optional<LocalModel> model = load(file, name.get());
            if (model.isEmpty()) {
                continue;
            }
            if (!fromFolder.add(name.get())) {
                // e.g. Foo.gguf and foo.GGUF; files are visited in name order, so the winner is stable
                warnOnce(file, "duplicate", "skipping model file " + file + ": another file in "
                        + folder + " is already served as " + name.get().shortName());
                continue;
            }
            byName.put(name.get(), model.get());
        }
        Set<String> manifests = new HashSet<>();
        for (StoredManifest sm : store == null ? List.<StoredManifest>of() : store.list()) {
            manifests.add(sm.digest().toString());
            fromStore(sm, seen).ifPresent(m -> byName.put(m.name(), m));
        }
        layerCache.keySet().retainAll(manifests);
        // forget files that are gone, so the cache is bounded by the folder's contents
        cache.keySet().retainAll(seen);
        warnings.keySet().retainAll(seen);
        List<LocalModel> out = new ArrayList<>(byName.values());
        out.sort(Comparator.comparing(m -> m.name().shortName()));
        return List.copyOf(out);
    }

    /**
     * Finds a model by any form of its name: {@code stories260k}, {@code stories260k:latest},
     * {@code library/stories260k}, {@code registry.ollama.ai/library/stories260k:latest}, any case.
     *
     * @throws IllegalArgumentException if {@code name} is not a valid model name
     */
    public Optional<LocalModel> resolve(String name) {
        return resolve(ModelName.parse(name));
    }

    /** Finds a model by name. */
    public Optional<LocalModel> resolve(ModelName name) {
        Objects.requireNonNull(name, "name");
        return list().stream().filter(m -> m.name().equals(name)).findFirst();
    }

    /** A model of the store: its model layer's GGUF, with the small layers read once per manifest digest. */
    private Optional<LocalModel> fromStore(StoredManifest sm, Set<Path> seen) {
        Optional<Layer> weights = sm.manifest().layer(MediaTypes.MODEL);
        if (weights.isEmpty()) {
            warnOnce(sm.path(), "no-model", "skipping " + sm.name().shortName() + ": its manifest has no model layer");
            return Optional.empty();
        }
        Path blob = store.blobPath(weights.get().digest());
        seen.add(blob);
        seen.add(sm.path());
        Optional<LocalModel> gguf = load(blob, sm.name());
        if (gguf.isEmpty()) {
            if (!Files.exists(blob)) {
                warnOnce(sm.path(), "blob", "skipping " + sm.name().shortName() + ": its model blob " + blob
                        + " is missing");
            }
            return Optional.empty();
        }
        ModelLayers layers;
        try {
            layers = layerCache.computeIfAbsent(sm.digest().toString(), d -> {
                try {
                    return StoreLayers.read(store, sm);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            warnOnce(sm.path(), "layers", "skipping " + sm.name().shortName() + ": " + describe(e.getCause()));
            return Optional.empty();
        }
        LocalModel m = gguf.get();
        return Optional.of(new LocalModel(sm.name(), blob, m.sizeBytes(), sm.modifiedAt(), m.metadata(), layers));
    }

    /**
     * Why the folder's file for {@code name} cannot be served (not a GGUF, truncated, unreadable), when there is
     * such a file: a request for it then gets that reason instead of "not found". Empty when there is no such file
     * or it is fine. Looks only at files {@link #list()} has already met.
     *
     * @throws IllegalArgumentException if {@code name} is not a valid model name
     */
    public Optional<String> problem(String name) {
        ModelName wanted = ModelName.parse(name);
        for (Path file : folderFiles()) {
            if (nameFor(file).filter(wanted::equals).isEmpty()) {
                continue;
            }
            Entry e = cache.get(file);
            if (e != null && e.model == null && e.error != null) {
                return Optional.of("model file " + file.getFileName() + " cannot be used: " + e.error);
            }
        }
        return Optional.empty();
    }

    /** The {@code *.gguf} entries at the top of the folder, sorted by file name; none if it is absent. */
    private List<Path> folderFiles() {
        if (folder == null || !Files.exists(folder)) {
            return List.of();
        }
        if (!Files.isDirectory(folder)) {
            reportFolderProblem("models folder " + folder + " is not a directory");
            return List.of();
        }
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(folder)) {
            for (Path p : dir) {
                String fileName = p.getFileName().toString();
                if (fileName.toLowerCase(Locale.ROOT).endsWith(EXTENSION)) {
                    files.add(p);
                }
            }
            lastFolderProblem = null;
        } catch (IOException | RuntimeException e) {
            reportFolderProblem("cannot list models folder " + folder + ": " + describe(e));
            return List.of();
        }
        files.sort(Comparator.comparing(p -> p.getFileName().toString()));
        return files;
    }

    private void reportFolderProblem(String problem) {
        if (!problem.equals(lastFolderProblem)) {
            lastFolderProblem = problem;
            LOG.log(Level.WARNING, problem);
        }
    }

    /** {@code base:latest} for {@code Base.gguf}, or empty (with a warning) when the base is not a valid name. */
    private Optional<ModelName> nameFor(Path file) {
        String fileName = file.getFileName().toString();
        String base = fileName.substring(0, fileName.length() - EXTENSION.length());
        try {
            // lower-cased: a loose file is not Ollama's (whose names keep their case), and its name is the file's
            return Optional.of(ModelName.of(base.toLowerCase(Locale.ROOT), ModelName.DEFAULT_TAG));
        } catch (IllegalArgumentException e) {
            warnOnce(file, "name", "skipping model file " + file + ": \"" + ModelName.displayable(base)
                    + "\" is not a valid model name (" + e.getMessage() + "); rename the file");
            return Optional.empty();
        }
    }

    /** The model at {@code file}, from the cache when the file is unchanged; empty if it is not usable. */
    private Optional<LocalModel> load(Path file, ModelName name) {
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(file, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            return Optional.empty(); // removed while we looked, or a dangling link: nothing to serve
        } catch (IOException | RuntimeException e) {
            warnOnce(file, "stat", "skipping model file " + file + ": " + describe(e));
            return Optional.empty();
        }
        if (!attrs.isRegularFile()) {
            return Optional.empty(); // a folder named x.gguf, a device, a socket
        }
        FileState state = new FileState(attrs.size(), attrs.lastModifiedTime().toInstant());
        Entry entry = cache.get(file);
        if (entry == null || !entry.state.equals(state)) {
            entry = parse(file, name, state);
            cache.put(file, entry);
        }
        if (entry.model == null) {
            return Optional.empty();
        }
        LocalModel m = entry.model;
        return Optional.of(m.name().equals(name) ? m
                : new LocalModel(name, m.path(), m.sizeBytes(), m.modifiedAt(), m.metadata()));
    }

    private Entry parse(Path file, ModelName name, FileState state) {
        try {
            GgufMetadata md = reader.read(file);
            return new Entry(state, new LocalModel(name, file, state.size, state.modifiedAt, md), null);
        } catch (IOException | RuntimeException e) {
            // RuntimeException too: a model file must never take the listing down with it. The failed
            // entry is cached, so this logs once per version of the file rather than once per request.
            LOG.log(Level.WARNING, "skipping model file " + file + ": " + describe(e));
            return new Entry(state, null, describe(e));
        }
    }

    /** Logs {@code message} unless this kind of warning was already logged for {@code file}. */
    private void warnOnce(Path file, String kind, String message) {
        if (warnings.computeIfAbsent(file, f -> ConcurrentHashMap.newKeySet()).add(kind)) {
            LOG.log(Level.WARNING, message);
        }
    }

    /** The cause of a failure for a log line that already names the file. */
    private static String describe(Throwable e) {
        if (e instanceof GgufFormatException f) {
            return "not a valid GGUF file: " + f.detail();
        }
        // NIO's file exceptions carry only the path as their message; the class says what went wrong
        String msg = e.getMessage();
        return e.getClass().getSimpleName() + (msg == null || msg.isBlank() ? "" : ": " + msg);
    }

    private record FileState(long size, Instant modifiedAt) {
    }

    /** One file's cached outcome: a model, or null and why after a failure. */
    private record Entry(FileState state, LocalModel model, String error) {
    }
}
