package dev.gantry.models.store;

import dev.gantry.models.ModelName;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Pulls a model from a registry into the store over the protocol Ollama speaks (the OCI distribution API):
 * {@code GET /v2/<namespace>/<model>/manifests/<tag>} with Docker's manifest media type in {@code Accept}, then
 * {@code GET /v2/<namespace>/<model>/blobs/<digest>} for each layer and the config not already stored.
 *
 * <p>A blob downloads into {@code blobs/sha256-<hex>-partial}; an interrupted pull leaves that file, and the next
 * pull asks only for the rest with {@code Range: bytes=<have>-} (starting over if the registry ignores the range).
 * Every blob is checked against its SHA-256 before it is renamed into place, and the manifest is written last, so
 * a failed pull never leaves a model that names missing or wrong blobs. Progress is reported in the steps and
 * fields of Ollama's {@code /api/pull} stream.
 *
 * <p>Thread-safe; two pulls that need the same blob download it once, one after the other.
 */
public final class RegistryPull {
    private static final int MAX_MANIFEST = 1 << 20;
    /** Report download progress about this often (in bytes), so a large layer makes a few thousand lines. */
    private static final long REPORT_EVERY = 4L << 20;

    /**
     * One progress step, in the shape of Ollama's {@code /api/pull} lines.
     *
     * @param status    {@code pulling manifest}, {@code pulling <digest12>}, {@code verifying sha256 digest},
     *                  {@code writing manifest}, {@code success}
     * @param digest    the layer, for {@code pulling <digest12>}; else null
     * @param total     the layer's size; else null
     * @param completed bytes of it present so far; else null
     */
    public record Progress(String status, String digest, Long total, Long completed) {
        static Progress of(String status) {
            return new Progress(status, null, null, null);
        }
    }

    private final OllamaStore store;
    private final HttpClient http;
    private final Map<Digest, ReentrantLock> downloading = new ConcurrentHashMap<>();

    public RegistryPull(OllamaStore store) {
        this(store, HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(30)).build());
    }

    /** @param http a client that does not follow redirects: a pull follows them itself ({@link RegistryAuth}) */
    public RegistryPull(OllamaStore store, HttpClient http) {
        this.store = Objects.requireNonNull(store, "store");
        this.http = Objects.requireNonNull(http, "http");
    }

    /**
     * Pulls {@code name} from its host.
     *
     * @param insecure use plain HTTP (Ollama's {@code insecure}); otherwise HTTPS
     * @throws IOException          for a registry or store failure, with a message fit for the client
     * @throws InterruptedException when the pull was cancelled
     */
    public StoredManifest pull(ModelName name, boolean insecure, Consumer<Progress> progress)
            throws IOException, InterruptedException {
        String base = (insecure ? "http://" : "https://") + name.host() + "/v2/" + name.namespace() + "/"
                + name.model();
        progress.accept(Progress.of("pulling manifest"));
        RegistryAuth auth = new RegistryAuth(http, URI.create(base));
        byte[] manifestBytes = fetchManifest(auth, URI.create(base + "/manifests/" + name.tag()));
        Manifest manifest;
        try {
            manifest = Manifest.parse(manifestBytes);
        } catch (IOException e) {
            throw new IOException("pull model manifest: " + e.getMessage());
        }
        // layers first, then the config, as Ollama orders them; each blob once
        Map<Digest, Layer> blobs = new LinkedHashMap<>();
        for (Layer l : manifest.layers()) {
            blobs.putIfAbsent(l.digest(), l);
        }
        blobs.putIfAbsent(manifest.config().digest(), manifest.config());
        List<Runnable> unlocks = new ArrayList<>();
        try {
            List<Downloaded> fetched = new ArrayList<>();
            for (Layer l : blobs.values()) {
                ReentrantLock lock = downloading.computeIfAbsent(l.digest(), d -> new ReentrantLock());
                lock.lockInterruptibly();
                unlocks.add(lock::unlock);
                Downloaded d = download(auth, base, l, progress);
                if (d != null) {
                    fetched.add(d);
                }
            }
            progress.accept(Progress.of("verifying sha256 digest"));
            for (Downloaded d : fetched) {
                Digest actual = new Digest(HexFormat.of().formatHex(d.md.digest()));
                if (!actual.equals(d.layer.digest())) {
                    Files.deleteIfExists(d.partial);
                    throw new IOException("digest mismatch, file must be downloaded again: want "
                            + d.layer.digest() + ", got " + actual);
                }
            }
            for (Downloaded d : fetched) {
                OllamaStore.moveIntoPlace(d.partial, store.blobPath(d.layer.digest()));
            }
        } finally {
            unlocks.forEach(Runnable::run);
        }
        progress.accept(Progress.of("writing manifest"));
        StoredManifest stored = store.writeManifest(name, manifestBytes);
        progress.accept(Progress.of("success"));
        return stored;
    }

    private static byte[] fetchManifest(RegistryAuth auth, URI uri) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(2))
                .header("Accept", MediaTypes.MANIFEST).GET().build();
        HttpResponse<InputStream> r = auth.send(req, HttpResponse.BodyHandlers.ofInputStream(), "pull model manifest");
        try (InputStream in = r.body()) {
            if (r.statusCode() == 404) {
                throw new IOException("pull model manifest: file does not exist");
            }
            check(r, "pull model manifest");
            byte[] bytes = in.readNBytes(MAX_MANIFEST + 1);
            if (bytes.length > MAX_MANIFEST) {
                throw new IOException("pull model manifest: the manifest is larger than " + MAX_MANIFEST + " bytes");
            }
            return bytes;
        }
    }

    /** Brings one blob's bytes into its partial file; null when the store already has it. */
    private Downloaded download(RegistryAuth auth, String base, Layer l, Consumer<Progress> progress)
            throws IOException, InterruptedException {
        Digest d = l.digest();
        String status = "pulling " + d.shortHex();
        long total = l.size();
        if (store.hasBlob(d)) {
            progress.accept(new Progress(status, d.toString(), total, total));
            return null;
        }
        Path partial = store.partialPath(d);
        Files.createDirectories(partial.getParent());
        long have = Files.exists(partial) ? Files.size(partial) : 0;
        if (have > total) {
            Files.delete(partial);
            have = 0;
        }
        MessageDigest md = OllamaStore.hashOf(partial);
        progress.accept(new Progress(status, d.toString(), total, have));
        if (have < total) {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/blobs/" + d)).GET();
            if (have > 0) {
                b.header("Range", "bytes=" + have + "-");
            }
            HttpResponse<InputStream> r = auth.send(b.build(), HttpResponse.BodyHandlers.ofInputStream(),
                    "pull blob " + d.shortHex());
            try (InputStream in = r.body()) {
                check(r, "pull blob " + d.shortHex());
                String wanted = "bytes " + have + "-";
                boolean resumed = r.statusCode() == 206 && r.headers().firstValue("Content-Range")
                        .map(cr -> cr.startsWith(wanted)).orElse(false);
                if (!resumed && have > 0) {
                    // the registry sent the whole blob: start over
                    Files.delete(partial);
                    md = OllamaStore.sha256();
                    have = 0;
                }
                have = copy(in, partial, md, have, total, status, d, progress);
            }
            if (have < total) {
                throw new IOException("pull blob " + d.shortHex() + ": the registry closed the download after "
                        + have + " of " + total + " bytes; pull again to resume");
            }
        }
        return new Downloaded(l, partial, md);
    }

    /** Appends the body to the partial file, at most up to the layer's size; returns the bytes now present. */
    private static long copy(InputStream in, Path partial, MessageDigest md, long have, long total, String status,
                             Digest d, Consumer<Progress> progress) throws IOException, InterruptedException {
        byte[] buf = new byte[1 << 16];
        long lastReport = have;
        try (OutputStream out = OllamaStore.append(partial)) {
            while (have < total) {
                if (Thread.interrupted()) {
                    throw new InterruptedException("pull cancelled");
                }
                int n;
                try {
                    n = in.read(buf, 0, (int) Math.min(buf.length, total - have));
                } catch (IOException e) {
                    break; // a broken connection: keep what arrived, the next pull resumes from it
                }
                if (n < 0) {
                    break;
                }
                out.write(buf, 0, n);
                md.update(buf, 0, n);
                have += n;
                if (have - lastReport >= REPORT_EVERY) {
                    lastReport = have;
                    progress.accept(new Progress(status, d.toString(), total, have));
                }
            }
        }
        progress.accept(new Progress(status, d.toString(), total, have));
        return have;
    }

    private static void check(HttpResponse<?> r, String what) throws IOException {
        int s = r.statusCode();
        if (s == 401 || s == 403) {
            throw new IOException(what + ": the registry refused access (HTTP " + s
                    + "); Gantry takes the anonymous tokens public registries hand out, not logins");
        }
        if (s != 200 && s != 206) {
            throw new IOException(what + ": the registry answered HTTP " + s);
        }
    }

    private record Downloaded(Layer layer, Path partial, MessageDigest md) {
    }
}
