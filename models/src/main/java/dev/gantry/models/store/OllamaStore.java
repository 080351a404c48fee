package dev.gantry.models.store;

import dev.gantry.models.ModelName;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Ollama's model store, read and written in Ollama's own layout so that Ollama and Gantry can share one folder
 * ({@code OLLAMA_MODELS}, by default {@code ~/.ollama/models}):
 *
 * <pre>
 * manifests/&lt;host&gt;/&lt;namespace&gt;/&lt;model&gt;/&lt;tag&gt;   the manifest (JSON) of each model
 * blobs/sha256-&lt;hex&gt;                                 every layer and config, named by its SHA-256
 * </pre>
 *
 * <p>Paths are only ever built from a validated {@link ModelName} (whose parts cannot hold {@code /}, {@code ..}
 * or a leading dot) or a {@link Digest} (64 hex digits), and checked to stay under the root once more, so no
 * request can name a file outside the store. Blobs and manifests are written to a temporary file beside their
 * target and renamed into place, so a crash, a failed check or a reader never sees half a file.
 *
 * <p>Thread-safe. Writes of manifests and deletions hold one store-wide lock, so a deletion's clean-up of
 * unreferenced blobs never races a manifest being written that references them.
 */
public final class OllamaStore {

    private static final System.Logger LOG = System.getLogger(OllamaStore.class.getName());
    /** Text layers (template, system, license, params, messages) larger than this are not read. */
    public static final int MAX_TEXT_LAYER = 16 << 20;
    /** Manifests larger than this are not read; real ones are about a kilobyte. */
    private static final int MAX_MANIFEST = 1 << 20;

    private final Path root;
    private final Path manifests;
    private final Path blobs;
    private final Object writeLock = new Object();
    /** Parsed manifests by file, valid while size and time are unchanged. */
    private final ConcurrentHashMap<Path, Cached> cache = new ConcurrentHashMap<>();
    /** Manifest files already warned about, so a broken one is logged once. */
    private final Set<Path> warned = ConcurrentHashMap.newKeySet();

    public OllamaStore(Path root) {
        this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
        this.manifests = this.root.resolve("manifests");
        this.blobs = this.root.resolve("blobs");
    }

    public Path root() {
        return root;
    }

    /** {@code blobs/sha256-<hex>}; the blob need not exist. */
    public Path blobPath(Digest digest) {
        return inside(blobs.resolve(digest.fileName()));
    }

    /** Where a download of {@code digest} collects its bytes until they are verified. */
    public Path partialPath(Digest digest) {
        return inside(blobs.resolve(digest.fileName() + "-partial"));
    }

    /** {@code manifests/<host>/<namespace>/<model>/<tag>} for a name, in the case it is spelt. */
    public Path manifestPath(ModelName name) {
        return inside(manifests.resolve(name.host()).resolve(name.namespace()).resolve(name.model())
                .resolve(name.tag()));
    }

    public boolean hasBlob(Digest digest) {
        return Files.isRegularFile(blobPath(digest), LinkOption.NOFOLLOW_LINKS)
                || Files.isRegularFile(blobPath(digest));
    }

    /** The blob's size, or empty when it is absent. */
    public Optional<Long> blobSize(Digest digest) {
        try {
            return Optional.of(Files.size(blobPath(digest)));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /**
     * Blobs a create in progress uses, by digest (under the write lock): {@link #delete} prunes none of them, so a
     * model deleted meanwhile cannot take a blob the new manifest names (two creates that quantize alike share one).
     */
    private final java.util.Map<Digest, Integer> pinned = new java.util.HashMap<>();
    /** Held blobs a delete would have pruned: pruned when the last hold on them lets go, if still unnamed. */
    private final Set<Digest> deferred = new HashSet<>();

    /** A create's hold on the blobs it uses, until closed; see {@link #pin()}. */
    public final class Pin implements AutoCloseable {
        private final List<Digest> held = new ArrayList<>();
        private final List<Digest> placed = new ArrayList<>();

        private Pin() {}

        /** Holds {@code d}; returns whether the blob is there (checked under the same lock delete prunes under). */
        public boolean add(Digest d) {
            synchronized (writeLock) {
                pinned.merge(d, 1, Integer::sum);
                held.add(d);
                return hasBlob(d);
            }
        }

        /** The blobs this hold's writes put in the store (not there before): what a failed create may prune. */
        public List<Digest> placed() {
            synchronized (writeLock) {
                return List.copyOf(placed);
            }
        }

        @Override
        public void close() {
            synchronized (writeLock) {
                List<Layer> released = new ArrayList<>();
                for (Digest d : held) {
                    pinned.computeIfPresent(d, (k, n) -> n == 1 ? null : n - 1);
                    if (!pinned.containsKey(d) && deferred.remove(d)) {
                        released.add(new Layer("", d, 0));
                    }
                }
                held.clear();
                if (!released.isEmpty()) {
                    try {
                        pruneBlobs(released); // what a delete left for this hold (a push of a model deleted meanwhile)
                    } catch (IOException e) {
                        LOG.log(Level.WARNING, "could not remove blobs a delete left: " + e.getMessage());
                    }
                }
            }
        }
    }

    /** A new hold on blobs for a create: what it {@link Pin#add}s no delete prunes until it closes. */
    public Pin pin() {
        return new Pin();
    }

    /**
     * Removes each of {@code digests}' blobs that no manifest references and no create holds: what a failed create
     * had written.
     */
    public void pruneUnreferenced(java.util.Collection<Digest> digests) throws IOException {
        synchronized (writeLock) {
            pruneBlobs(digests.stream().map(d -> new Layer("", d, 0)).toList());
        }
    }

    /** Stores bytes as a blob (a no-op when present) and returns their layer. */
    public Layer writeBlob(String mediaType, byte[] bytes) throws IOException {
        return writeBlob(mediaType, bytes, null);
    }

    /** {@link #writeBlob(String, byte[])}, held by {@code pin} (when not null) from before it looks for the blob. */
    public Layer writeBlob(String mediaType, byte[] bytes, Pin pin) throws IOException {
        Digest d = new Digest(HexFormat.of().formatHex(sha256().digest(bytes)));
        if (pin != null) {
            synchronized (writeLock) {
                if (!pin.add(d)) {
                    writeNew(d, bytes);
                    pin.placed.add(d);
                }
            }
            return new Layer(mediaType, d, bytes.length);
        }
        if (!hasBlob(d)) {
            writeNew(d, bytes);
        }
        return new Layer(mediaType, d, bytes.length);
    }

    /**
     * A blob written or found present by an upload or a manifest: no longer one a delete left to be pruned when its
     * hold lets go (someone counts on it now). Under the write lock or not.
     */
    void claim(Digest d) {
        synchronized (writeLock) {
            deferred.remove(d);
        }
    }

    private void writeNew(Digest d, byte[] bytes) throws IOException {
        claim(d);
        Files.createDirectories(blobs);
        Path tmp = Files.createTempFile(blobs, ".upload-", ".tmp");
        try {
            Files.write(tmp, bytes);
            moveIntoPlace(tmp, blobPath(d));
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Copies a stream into the store as a blob, hashing it on the way, and returns its digest. With
     * {@code expected} the stream must hash to it, else nothing is stored and {@link DigestMismatchException}
     * is thrown.
     */
    public Digest writeBlob(InputStream in, Digest expected) throws IOException {
        try (BlobUpload up = newUpload(expected)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                up.write(buf, 0, n);
            }
            return up.commit();
        }
    }

    /**
     * A new empty file among the blobs, for a blob that something else writes (a quantized model); {@link #adoptBlob}
     * takes it in, and the caller deletes it where that never happens.
     */
    public Path newBlobFile(String prefix) throws IOException {
        Files.createDirectories(blobs);
        return Files.createTempFile(blobs, "." + prefix + "-", ".tmp");
    }

    /**
     * Takes a file from {@link #newBlobFile} in as a blob (hashing it, then moving it into place), or drops it; held
     * by {@code pin} from before it looks for the blob.
     */
    public Digest adoptBlob(Path file, Pin pin) throws IOException {
        try {
            MessageDigest md = sha256();
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buf = new byte[1 << 20];
                for (int n; (n = in.read(buf)) > 0; ) {
                    md.update(buf, 0, n);
                }
            }
            Digest d = new Digest(HexFormat.of().formatHex(md.digest()));
            synchronized (writeLock) {
                if (!pin.add(d)) {
                    moveIntoPlace(file, blobPath(d));
                    pin.placed.add(d);
                }
            }
            return d;
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** Starts writing a blob whose bytes arrive in pieces; see {@link BlobUpload}. */
    public BlobUpload newUpload(Digest expected) throws IOException {
        Files.createDirectories(blobs);
        return new BlobUpload(this, Files.createTempFile(blobs, ".upload-", ".tmp"), expected);
    }

    /** The blob's bytes, for the small text and JSON layers. */
    public byte[] readSmallBlob(Digest digest) throws IOException {
        Path p = blobPath(digest);
        long size = Files.size(p);
        if (size > MAX_TEXT_LAYER) {
            throw new IOException("blob " + digest + " is " + size + " bytes, more than a text layer may be");
        }
        return Files.readAllBytes(p);
    }

    /** Every model in the store, sorted by name; manifests that cannot be read are skipped with a warning. */
    public List<StoredManifest> list() {
        List<StoredManifest> out = new ArrayList<>();
        Set<Path> seen = new HashSet<>();
        Set<ModelName> names = new HashSet<>();
        for (Path file : manifestFiles()) {
            seen.add(file);
            read(file).filter(m -> names.add(m.name())).ifPresent(out::add);
        }
        cache.keySet().retainAll(seen);
        warned.retainAll(seen);
        out.sort(Comparator.comparing(m -> m.name().shortName()));
        return out;
    }

    /** The manifest of a model, any case of its name. */
    public Optional<StoredManifest> find(ModelName name) {
        Path direct = manifestPath(name);
        if (Files.isRegularFile(direct)) {
            Optional<StoredManifest> m = read(direct);
            if (m.isPresent()) {
                return m;
            }
        }
        // the name spelt in another case than its folders
        return list().stream().filter(m -> m.name().equals(name)).findFirst();
    }

    /**
     * Writes a manifest for {@code name}, replacing any, after checking that every blob it names is present.
     * Returns what was stored.
     */
    public StoredManifest writeManifest(ModelName name, Manifest manifest) throws IOException {
        return writeManifest(name, manifest.toJson());
    }

    /**
     * Writes manifest bytes as they are (a pulled manifest keeps the registry's bytes, and so its digest).
     *
     * @throws IOException if they do not parse, or name a blob that is not in the store
     */
    public StoredManifest writeManifest(ModelName name, byte[] json) throws IOException {
        Manifest m = Manifest.parse(json);
        synchronized (writeLock) {
            for (Layer l : m.blobs()) {
                if (!hasBlob(l.digest())) {
                    throw new IOException("the manifest names blob " + l.digest() + ", which is not in the store");
                }
                deferred.remove(l.digest()); // named now: nothing prunes it when a hold lets go
            }
            // an existing manifest under another case of the name keeps its spelling, as Ollama's getExistingName
            // reuses the stored name: one model, not two folders that differ in case
            Optional<StoredManifest> old = find(name);
            Path target = old.map(StoredManifest::path).orElseGet(() -> manifestPath(name));
            Files.createDirectories(target.getParent());
            Path tmp = Files.createTempFile(target.getParent(), ".manifest-", ".tmp");
            try {
                Files.write(tmp, json);
                moveIntoPlace(tmp, target);
                cache.remove(target); // a rewrite in the same instant with the same size must not read as the old
            } finally {
                Files.deleteIfExists(tmp);
            }
            // the replaced version's blobs that nothing references now go, as Ollama's create removes the old
            // manifest's layers: re-creating a model from a new GGUF leaked the old one (gigabytes) for good
            if (old.isPresent()) {
                pruneBlobs(old.get().manifest().blobs());
            }
        }
        return find(name).orElseThrow(() -> new IOException("cannot read back the manifest of " + name));
    }

    /** Copies a model's manifest to a new name (the blobs are shared). */
    public StoredManifest copy(ModelName from, ModelName to) throws IOException {
        StoredManifest src = find(from).orElseThrow(() -> new NoSuchFileException(from.toString()));
        return writeManifest(to, Files.readAllBytes(src.path()));
    }

    /**
     * Removes a model's manifest, then each of its blobs that no other manifest references, as Ollama does.
     * Blobs that belonged to no manifest (an upload awaiting {@code /api/create}) are left alone.
     *
     * @return false if there was no such model
     */
    public boolean delete(ModelName name) throws IOException {
        synchronized (writeLock) {
            Optional<StoredManifest> found = find(name);
            if (found.isEmpty()) {
                return false;
            }
            StoredManifest m = found.get();
            Files.deleteIfExists(m.path());
            cache.remove(m.path());
            pruneEmptyFolders(m.path().getParent());
            pruneBlobs(m.manifest().blobs());
            return true;
        }
    }

    /** Deletes each of {@code candidates}' blobs that no manifest references; under the write lock. */
    private void pruneBlobs(List<Layer> candidates) throws IOException {
        Set<Digest> stillUsed = new HashSet<>();
        for (StoredManifest other : list()) {
            other.manifest().blobs().forEach(l -> stillUsed.add(l.digest()));
        }
        for (Layer l : candidates) {
            if (!stillUsed.contains(l.digest()) && pinned.containsKey(l.digest())) {
                deferred.add(l.digest());
            } else if (!stillUsed.contains(l.digest())) {
                Files.deleteIfExists(blobPath(l.digest()));
            }
        }
    }

    /** Reads one manifest file; empty (with one warning) if it is not a valid manifest in a valid place. */
    private Optional<StoredManifest> read(Path file) {
        try {
            Path rel = manifests.relativize(file);
            if (rel.getNameCount() != 4) {
                return Optional.empty();
            }
            ModelName name = new ModelName(rel.getName(0).toString(), rel.getName(1).toString(),
                    rel.getName(2).toString(), rel.getName(3).toString());
            BasicFileAttributes attrs = Files.readAttributes(file, BasicFileAttributes.class);
            if (!attrs.isRegularFile()) {
                return Optional.empty();
            }
            if (attrs.size() > MAX_MANIFEST) {
                throw new IOException("it is " + attrs.size() + " bytes, too large for a manifest");
            }
            Cached c = cache.get(file);
            if (c != null && c.size == attrs.size() && c.modified == attrs.lastModifiedTime().toMillis()) {
                return Optional.of(c.manifest);
            }
            byte[] bytes = Files.readAllBytes(file);
            Manifest manifest = Manifest.parse(bytes);
            StoredManifest sm = new StoredManifest(name, manifest,
                    new Digest(HexFormat.of().formatHex(sha256().digest(bytes))),
                    attrs.lastModifiedTime().toInstant(), file);
            cache.put(file, new Cached(attrs.size(), attrs.lastModifiedTime().toMillis(), sm));
            return Optional.of(sm);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | RuntimeException e) {
            if (warned.add(file)) {
                LOG.log(Level.WARNING, "skipping manifest " + file + ": " + e.getMessage());
            }
            return Optional.empty();
        }
    }

    /** The files exactly four folders below {@code manifests/}; links are not followed. */
    private List<Path> manifestFiles() {
        List<Path> out = new ArrayList<>();
        collect(manifests, 0, out);
        return out;
    }

    private void collect(Path dir, int depth, List<Path> out) {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path p : entries) {
                if (p.getFileName().toString().startsWith(".")) {
                    continue; // our temporary files, and anything hidden
                }
                if (depth == 3) {
                    if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                        out.add(p);
                    }
                } else {
                    collect(p, depth + 1, out);
                }
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot list " + dir + ": " + e.getMessage());
        }
    }

    private void pruneEmptyFolders(Path dir) {
        for (Path d = dir; d != null && d.startsWith(manifests) && !d.equals(manifests); d = d.getParent()) {
            try {
                Files.deleteIfExists(d);
            } catch (DirectoryNotEmptyException e) {
                return;
            } catch (IOException e) {
                return;
            }
        }
    }

    private static final java.util.Set<java.nio.file.attribute.PosixFilePermission> READABLE =
            java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--");

    /**
     * Renames a finished temporary file onto its target, atomically where the file system allows, readable by all as
     * Ollama leaves its blobs and manifests (a temporary file is the owner's only: a store shared with an ollama
     * service user must stay readable to it).
     */
    static void moveIntoPlace(Path tmp, Path target) throws IOException {
        try {
            Files.setPosixFilePermissions(tmp, READABLE);
        } catch (UnsupportedOperationException notPosix) {
            // the file system's own defaults
        }
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** {@code p}, after checking once more that it lies under the root. */
    private Path inside(Path p) {
        Path n = p.toAbsolutePath().normalize();
        if (!n.startsWith(root)) {
            throw new IllegalArgumentException("path outside the model store");
        }
        return n;
    }

    /** Appends to {@code file} from its current end, hashing everything that is in it; used to resume downloads. */
    static MessageDigest hashOf(Path file) throws IOException {
        MessageDigest md = sha256();
        if (Files.exists(file)) {
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buf = new byte[1 << 16];
                for (int n; (n = in.read(buf)) > 0; ) {
                    md.update(buf, 0, n);
                }
            }
        }
        return md;
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime must provide SHA-256", e);
        }
    }

    static OutputStream append(Path file) throws IOException {
        return Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    static FileChannel openNew(Path file) throws IOException {
        return FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
    }

    private record Cached(long size, long modified, StoredManifest manifest) {
    }
}
