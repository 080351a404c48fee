package dev.gantry.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A registry speaking the part of the distribution API that {@code ollama pull} and {@code ollama push} use, on a
 * loopback port: manifests by tag, blobs by digest with {@code Range}, {@code HEAD} of a blob, monolithic uploads
 * ({@code POST .../blobs/uploads/}, then {@code PUT} with {@code ?digest=}, checked) and manifests put by tag. It can
 * cut a blob's first download halfway, to test resuming, and refuse uploads as a registry that wants a login.
 */
final class TestRegistry implements AutoCloseable {
    private final HttpServer server;
    private final Map<String, byte[]> manifests = new ConcurrentHashMap<>();
    private final Map<String, byte[]> blobs = new ConcurrentHashMap<>();
    final List<String> ranges = new CopyOnWriteArrayList<>();
    final List<String> accepts = new CopyOnWriteArrayList<>();
    /** Blob digests whose next download stops after half the bytes. */
    final Map<String, AtomicInteger> cutOnce = new ConcurrentHashMap<>();
    /** Blob digests uploaded by pushes, in order. */
    final List<String> uploaded = new CopyOnWriteArrayList<>();
    /** Answer 401 to uploads, as a registry that wants a login. */
    volatile boolean refuseUploads;
    /**
     * With a token set, every request must carry it as a Bearer token, else 401 with a challenge whose realm is
     * {@code /token} here (Docker's token authentication, as public registries ask for it).
     */
    volatile String token;
    /** The token service refuses anonymous requests (a registry that wants a login). */
    volatile boolean tokenNeedsLogin;
    /** The {@code service} and {@code scope} each token request asked for. */
    final List<String> tokenRequests = new CopyOnWriteArrayList<>();
    /** Blob downloads are redirected to {@code /cdn/} on another host name (localhost for 127.0.0.1). */
    volatile boolean redirectBlobs;
    /** The Authorization header each redirected download came with ("none" without one). */
    final List<String> cdnAuthorizations = new CopyOnWriteArrayList<>();

    TestRegistry() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/v2/", this::handle);
        server.createContext("/token", this::token);
        server.createContext("/cdn/", this::cdn);
        server.start();
    }

    private void token(HttpExchange ex) throws IOException {
        try (ex) {
            tokenRequests.add(java.net.URLDecoder.decode(String.valueOf(ex.getRequestURI().getRawQuery()),
                    StandardCharsets.UTF_8));
            if (tokenNeedsLogin) {
                send(ex, 401, "{\"details\":\"login required\"}".getBytes(StandardCharsets.UTF_8));
                return;
            }
            // a token is good for the actions its scope named: pull alone, or pull and push
            String query = String.valueOf(ex.getRequestURI().getRawQuery());
            String actions = query.endsWith("%3Apull%2Cpush") || query.endsWith(":pull,push") ? "pull,push" : "pull";
            send(ex, 200, ("{\"token\":\"" + token + "/" + actions + "\",\"expires_in\":300}")
                    .getBytes(StandardCharsets.UTF_8));
        }
    }

    private void cdn(HttpExchange ex) throws IOException {
        try (ex) {
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            cdnAuthorizations.add(auth == null ? "none" : auth);
            byte[] blob = blobs.get(ex.getRequestURI().getPath().substring("/cdn/".length()));
            send(ex, blob == null ? 404 : 200, blob == null ? new byte[0] : blob);
        }
    }

    /** False (after a 401 with a challenge) when a token is required and the request lacks it. */
    private boolean authorized(HttpExchange ex, String path) throws IOException {
        String t = token;
        String actions = ex.getRequestMethod().equals("GET") || ex.getRequestMethod().equals("HEAD") ? "pull"
                : "pull,push";
        String sent = ex.getRequestHeaders().getFirst("Authorization");
        if (t == null || ("Bearer " + t + "/pull,push").equals(sent)
                || (actions.equals("pull") && ("Bearer " + t + "/pull").equals(sent))) {
            return true;
        }
        int cut = path.indexOf("/manifests/") >= 0 ? path.indexOf("/manifests/") : path.indexOf("/blobs/");
        String repo = cut < 0 ? path : path.substring(0, cut);
        ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"http://" + host() + "/token\","
                + "service=\"test-registry\",scope=\"repository:" + repo + ":" + actions + "\"");
        send(ex, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}".getBytes(StandardCharsets.UTF_8));
        return false;
    }

    String host() {
        return "127.0.0.1:" + server.getAddress().getPort();
    }

    static String sha256(byte[] b) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Serves {@code content} as a blob, under its own digest; returns the digest. */
    String blob(byte[] content) {
        String d = sha256(content);
        blobs.put(d, content);
        return d;
    }

    /** Serves {@code content} under a digest it does not have. */
    void blobUnder(String digest, byte[] content) {
        blobs.put(digest, content);
    }

    /** A manifest of a config and layers ({@code mediaType, digest, size} triples), served at ns/model/tag. */
    byte[] manifest(String namespace, String model, String tag, String[]... layers) {
        StringBuilder sb = new StringBuilder("{\"schemaVersion\":2,\"mediaType\":"
                + "\"application/vnd.docker.distribution.manifest.v2+json\",");
        for (int i = 0; i < layers.length; i++) {
            String[] l = layers[i];
            String layer = "{\"mediaType\":\"" + l[0] + "\",\"digest\":\"" + l[1] + "\",\"size\":" + l[2] + "}";
            if (i == 0) {
                sb.append("\"config\":").append(layer).append(",\"layers\":[");
            } else {
                sb.append(i > 1 ? "," : "").append(layer);
            }
        }
        sb.append("]}");
        byte[] bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
        manifests.put(namespace + "/" + model + "/" + tag, bytes);
        return bytes;
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath().substring("/v2/".length());
            String method = ex.getRequestMethod();
            if (!authorized(ex, path)) {
                return;
            }
            int u = path.indexOf("/blobs/uploads/");
            if (u >= 0) {
                upload(ex, method, path, u);
                return;
            }
            int m = path.indexOf("/manifests/");
            if (m >= 0 && method.equals("PUT")) {
                manifests.put(path.substring(0, m) + "/" + path.substring(m + "/manifests/".length()),
                        ex.getRequestBody().readAllBytes());
                send(ex, 201, new byte[0]);
                return;
            }
            if (method.equals("HEAD")) {
                int h = path.indexOf("/blobs/");
                boolean has = h >= 0 && blobs.containsKey(path.substring(h + "/blobs/".length()));
                ex.sendResponseHeaders(has ? 200 : 404, -1);
                return;
            }
            if (m >= 0) {
                accepts.add(String.valueOf(ex.getRequestHeaders().getFirst("Accept")));
                byte[] body = manifests.get(path.substring(0, m) + "/" + path.substring(m + "/manifests/".length()));
                send(ex, body == null ? 404 : 200, body == null ? "{\"errors\":[]}".getBytes() : body);
                return;
            }
            int b = path.indexOf("/blobs/");
            byte[] blob = b < 0 ? null : blobs.get(path.substring(b + "/blobs/".length()));
            if (blob == null) {
                send(ex, 404, new byte[0]);
                return;
            }
            String digest = path.substring(b + "/blobs/".length());
            if (redirectBlobs) {
                ex.getResponseHeaders().set("Location", "http://localhost:" + server.getAddress().getPort() + "/cdn/"
                        + digest + "?signature=abc");
                send(ex, 307, new byte[0]);
                return;
            }
            String range = ex.getRequestHeaders().getFirst("Range");
            int from = 0;
            if (range != null) {
                ranges.add(range);
                from = Integer.parseInt(range.substring("bytes=".length(), range.indexOf('-')));
                ex.getResponseHeaders().set("Content-Range", "bytes " + from + "-" + (blob.length - 1) + "/"
                        + blob.length);
            }
            AtomicInteger cut = cutOnce.get(digest);
            ex.sendResponseHeaders(range != null ? 206 : 200, blob.length - from);
            OutputStream out = ex.getResponseBody();
            if (cut != null && cut.getAndIncrement() == 0) {
                out.write(blob, from, (blob.length - from) / 2);
                out.flush();
                // stop short of Content-Length: the client sees the connection end mid-body
                throw new IOException("cut on purpose");
            }
            out.write(blob, from, blob.length - from);
        }
    }

    /** {@code POST .../blobs/uploads/} starts one (its location carries a query); {@code PUT} it with the digest. */
    private void upload(HttpExchange ex, String method, String path, int at) throws IOException {
        if (refuseUploads) {
            send(ex, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}".getBytes(StandardCharsets.UTF_8));
            return;
        }
        if (method.equals("POST")) {
            ex.getResponseHeaders().set("Location", "/v2/" + path.substring(0, at) + "/blobs/uploads/"
                    + java.util.UUID.randomUUID() + "?_state=opaque");
            send(ex, 202, new byte[0]);
            return;
        }
        String query = String.valueOf(ex.getRequestURI().getRawQuery());
        int d = query.indexOf("digest=");
        byte[] body = ex.getRequestBody().readAllBytes();
        String digest = d < 0 ? "" : java.net.URLDecoder.decode(query.substring(d + "digest=".length()),
                StandardCharsets.UTF_8);
        if (!method.equals("PUT") || !query.contains("_state=opaque") || !digest.equals(sha256(body))) {
            send(ex, 400, "{\"errors\":[{\"code\":\"DIGEST_INVALID\"}]}".getBytes(StandardCharsets.UTF_8));
            return;
        }
        blobs.put(digest, body);
        uploaded.add(digest);
        send(ex, 201, new byte[0]);
    }

    boolean hasBlob(String digest) {
        return blobs.containsKey(digest);
    }

    /** The manifest stored at ns/model/tag, or null. */
    byte[] manifestAt(String namespace, String model, String tag) {
        return manifests.get(namespace + "/" + model + "/" + tag);
    }

    private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            ex.getResponseBody().write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
