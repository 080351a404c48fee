package dev.gantry.models.store;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Pushes a model of the store to the registry its name names, as {@code ollama push} does, over the distribution
 * API: each blob the registry does not have yet is uploaded whole ({@code POST .../blobs/uploads/}, then {@code PUT}
 * to the location it answers with {@code ?digest=}), then the manifest, byte for byte, under the tag. A registry's
 * anonymous token is fetched where it asks for one ({@link RegistryAuth}); registries that want a login (Ollama's own
 * asks for a signed key) end the push with a clear error.
 */
public final class RegistryPush {
    /** Report upload progress about this often (in bytes). */
    private static final long REPORT_EVERY = 4L << 20;

    private final OllamaStore store;
    private final HttpClient http;

    public RegistryPush(OllamaStore store) {
        this(store, HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(30)).build());
    }

    public RegistryPush(OllamaStore store, HttpClient http) {
        this.store = Objects.requireNonNull(store, "store");
        this.http = Objects.requireNonNull(http, "http");
    }

    /**
     * Pushes {@code m} to its name's host, with Ollama's statuses: {@code retrieving manifest}, {@code pushing
     * <digest12>} with the layer's bytes done, {@code pushing manifest}, {@code success}.
     *
     * @param insecure plain HTTP (Ollama's {@code insecure}); otherwise HTTPS
     * @throws IOException          a registry or store failure, with a message fit for the client
     * @throws InterruptedException the push was cancelled
     */
    public void push(StoredManifest m, boolean insecure, Consumer<RegistryPull.Progress> progress)
            throws IOException, InterruptedException {
        progress.accept(RegistryPull.Progress.of("retrieving manifest"));
        byte[] manifestBytes = Files.readAllBytes(m.path());
        String base = (insecure ? "http://" : "https://") + m.name().host() + "/v2/" + m.name().namespace() + "/"
                + m.name().model();
        RegistryAuth auth = new RegistryAuth(http, URI.create(base));
        // layers, then the config, each once
        Map<Digest, Layer> blobs = new LinkedHashMap<>();
        m.manifest().layers().forEach(l -> blobs.putIfAbsent(l.digest(), l));
        blobs.putIfAbsent(m.manifest().config().digest(), m.manifest().config());
        for (Layer l : blobs.values()) {
            upload(auth, base, l, progress);
        }
        progress.accept(RegistryPull.Progress.of("pushing manifest"));
        HttpRequest put = HttpRequest.newBuilder(URI.create(base + "/manifests/" + m.name().tag()))
                .timeout(Duration.ofMinutes(2)).header("Content-Type", MediaTypes.MANIFEST)
                .PUT(HttpRequest.BodyPublishers.ofByteArray(manifestBytes)).build();
        HttpResponse<String> r = auth.send(put, HttpResponse.BodyHandlers.ofString(), "push manifest");
        check(r, "push manifest", 200, 201);
        progress.accept(RegistryPull.Progress.of("success"));
    }

    private void upload(RegistryAuth auth, String base, Layer l, Consumer<RegistryPull.Progress> progress)
            throws IOException, InterruptedException {
        String status = "pushing " + l.digest().hex().substring(0, 12);
        Path blob = store.blobPath(l.digest());
        if (!Files.isRegularFile(blob)) {
            throw new IOException("push: blob " + l.digest() + " of the model is not in the store");
        }
        long size = Files.size(blob);
        HttpRequest head = HttpRequest.newBuilder(URI.create(base + "/blobs/" + l.digest()))
                .timeout(Duration.ofMinutes(1)).method("HEAD", HttpRequest.BodyPublishers.noBody()).build();
        HttpResponse<Void> exists = auth.send(head, HttpResponse.BodyHandlers.discarding(), "push blob");
        if (exists.statusCode() == 200) { // the registry has it: nothing to send
            progress.accept(new RegistryPull.Progress(status, l.digest().toString(), size, size));
            return;
        }
        check(exists, "push blob", 404);
        progress.accept(new RegistryPull.Progress(status, l.digest().toString(), size, 0L));
        HttpRequest start = HttpRequest.newBuilder(URI.create(base + "/blobs/uploads/"))
                .timeout(Duration.ofMinutes(1)).POST(HttpRequest.BodyPublishers.noBody()).build();
        HttpResponse<String> started = auth.send(start, HttpResponse.BodyHandlers.ofString(), "push blob");
        check(started, "push blob", 202);
        String location = started.headers().firstValue("Location")
                .orElseThrow(() -> new IOException("push blob: the registry gave no upload location"));
        HttpRequest upload;
        try {
            URI target = URI.create(base + "/").resolve(location);
            String query = target.getRawQuery();
            URI put = URI.create(target.toString() + (query == null ? "?" : "&") + "digest=" + l.digest());
            upload = HttpRequest.newBuilder(put).timeout(Duration.ofHours(6))
                    .header("Content-Type", "application/octet-stream")
                    .PUT(HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(
                            () -> counting(blob, size, status, l.digest().toString(), progress)), size))
                    .build();
        } catch (IllegalArgumentException e) { // no URI, or not http(s)
            throw new IOException("push blob: the registry gave a bad upload location \"" + location + "\": "
                    + e.getMessage());
        }
        HttpResponse<String> done = auth.send(upload, HttpResponse.BodyHandlers.ofString(), "push blob");
        check(done, "push blob", 201, 200, 204);
        progress.accept(new RegistryPull.Progress(status, l.digest().toString(), size, size));
    }

    /** The blob's bytes, reporting how many went out about every {@link #REPORT_EVERY}. */
    private static InputStream counting(Path blob, long size, String status, String digest,
                                        Consumer<RegistryPull.Progress> progress) {
        try {
            return new FilterInputStream(Files.newInputStream(blob)) {
                private long sent;
                private long reported;

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    int n = super.read(b, off, len);
                    if (n > 0) {
                        sent += n;
                        if (sent - reported >= REPORT_EVERY && sent < size) {
                            reported = sent;
                            progress.accept(new RegistryPull.Progress(status, digest, size, sent));
                        }
                    }
                    return n;
                }
            };
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void check(HttpResponse<?> r, String what, int... ok) throws IOException {
        int s = r.statusCode();
        for (int o : ok) {
            if (s == o) {
                return;
            }
        }
        if (s == 401 || s == 403) {
            throw new IOException(what + ": the registry refused access (HTTP " + s + "); Gantry takes the anonymous "
                    + "tokens public registries hand out, not logins (Ollama's registry signs pushes with an account "
                    + "key)");
        }
        throw new IOException(what + ": the registry answered HTTP " + s + registryMessage(r.body()));
    }

    /** The message of a distribution API error body ({@code {"errors":[{"code":..,"message":..}]}}), if any. */
    private static String registryMessage(Object body) {
        if (!(body instanceof String text) || text.isBlank()) {
            return "";
        }
        try {
            com.fasterxml.jackson.databind.JsonNode errors = StoreJson.MAPPER.readTree(text).path("errors");
            if (errors.isArray() && !errors.isEmpty()) {
                com.fasterxml.jackson.databind.JsonNode e = errors.get(0);
                String m = e.path("message").asText(e.path("code").asText(""));
                return m.isEmpty() ? "" : ": " + m;
            }
        } catch (IOException | RuntimeException notJson) {
            // a body that is no error list says nothing more
        }
        return "";
    }
}
