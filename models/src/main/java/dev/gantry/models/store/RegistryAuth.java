package dev.gantry.models.store;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The requests of one pull or push, with the distribution API's token authentication as public registries ask for
 * it: a request answered 401 with {@code WWW-Authenticate: Bearer realm=...,service=...,scope=...} is sent again
 * with the token the realm hands out anonymously for that service and scope, and the token goes with every later
 * request of the operation to the registry's host. Redirects are followed here, not by the HTTP client: the token
 * stays on the registry's own host and is not sent where a blob's download is redirected (a storage service's
 * signed address, which refuses a second credential). A realm that will not hand out a token without a login (as
 * Ollama's own does for pushes, which it signs with an account key) ends the operation with a clear error.
 *
 * <p>One instance an operation; not thread-safe.
 */
final class RegistryAuth {
    private static final int MAX_REDIRECTS = 10;
    private static final int MAX_TOKEN_BODY = 1 << 20;

    /** What a registry's {@code WWW-Authenticate: Bearer ...} asks for. */
    record Challenge(String realm, String service, String scope) {
        /** The Bearer challenge of a {@code WWW-Authenticate} value, if it is one with a realm. */
        static Optional<Challenge> parse(String header) {
            if (header == null) {
                return Optional.empty();
            }
            String h = header.strip();
            if (!h.regionMatches(true, 0, "Bearer ", 0, 7)) {
                return Optional.empty();
            }
            Map<String, String> params = params(h.substring(7));
            String realm = params.get("realm");
            if (realm == null || realm.isEmpty()) {
                return Optional.empty();
            }
            return Optional.of(new Challenge(realm, params.get("service"), params.get("scope")));
        }

        /**
         * The first Bearer challenge among a response's {@code WWW-Authenticate} values, each of which may also hold
         * other schemes' challenges before it ({@code Basic realm="x", Bearer realm="y"}).
         */
        static Optional<Challenge> first(java.util.List<String> headers) {
            for (String h : headers) {
                String lower = h.toLowerCase(Locale.ROOT);
                for (int at = lower.indexOf("bearer "); at >= 0; at = lower.indexOf("bearer ", at + 1)) {
                    if (at == 0 || lower.charAt(at - 1) == ' ' || lower.charAt(at - 1) == ',') {
                        Optional<Challenge> c = parse(h.substring(at));
                        if (c.isPresent()) {
                            return c;
                        }
                    }
                }
            }
            return Optional.empty();
        }

        /** {@code key="value"} pairs (or bare values), separated by commas outside quotes; keys in lower case. */
        private static Map<String, String> params(String s) {
            Map<String, String> out = new LinkedHashMap<>();
            int i = 0;
            while (i < s.length()) {
                while (i < s.length() && (s.charAt(i) == ',' || Character.isWhitespace(s.charAt(i)))) {
                    i++;
                }
                int eq = s.indexOf('=', i);
                if (eq < 0) {
                    break;
                }
                String key = s.substring(i, eq).strip().toLowerCase(Locale.ROOT);
                i = eq + 1;
                StringBuilder value = new StringBuilder();
                if (i < s.length() && s.charAt(i) == '"') {
                    i++;
                    while (i < s.length() && s.charAt(i) != '"') {
                        if (s.charAt(i) == '\\' && i + 1 < s.length()) {
                            i++;
                        }
                        value.append(s.charAt(i++));
                    }
                    i++; // the closing quote
                } else {
                    while (i < s.length() && s.charAt(i) != ',') {
                        value.append(s.charAt(i++));
                    }
                }
                out.put(key, value.toString().strip());
            }
            return out;
        }
    }

    private final HttpClient http;
    /** The registry's scheme, host and port, where the token may go (not over plain HTTP where it was HTTPS). */
    private final String registry;
    private String token;

    /** @param http a client that does not follow redirects (this class does) */
    RegistryAuth(HttpClient http, URI registry) {
        this.http = Objects.requireNonNull(http, "http");
        this.registry = origin(registry);
    }

    /** {@code scheme://host:port} with the scheme's default port made explicit; null for a URI without a host. */
    static String origin(URI uri) {
        if (uri.getHost() == null || uri.getScheme() == null) {
            return null;
        }
        String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
        int port = uri.getPort() >= 0 ? uri.getPort() : scheme.equals("https") ? 443 : scheme.equals("http") ? 80 : -1;
        return scheme + "://" + uri.getHost().toLowerCase(Locale.ROOT) + ":" + port;
    }

    /**
     * Sends {@code req}, following redirects, with the operation's token where the registry asked for one.
     * {@code what} names the step in errors ("pull blob 1a2b...").
     */
    <T> HttpResponse<T> send(HttpRequest req, HttpResponse.BodyHandler<T> handler, String what)
            throws IOException, InterruptedException {
        return follow(req, handler, what, true);
    }

    /** {@link #send}, answering a registry's challenge with a token where {@code challenges} (not a token's own). */
    private <T> HttpResponse<T> follow(HttpRequest req, HttpResponse.BodyHandler<T> handler, String what,
                                       boolean challenges) throws IOException, InterruptedException {
        boolean fetched = !challenges;
        HttpRequest current = req;
        for (int hops = 0; ; ) {
            HttpResponse<T> r = sendOnce(authorized(current), handler, what);
            int s = r.statusCode();
            if (s == 401 && !fetched && sameRegistry(current.uri())) {
                Optional<Challenge> c = Challenge.first(r.headers().allValues("WWW-Authenticate"));
                if (c.isPresent()) {
                    discard(r);
                    token = fetchToken(c.get(), what);
                    fetched = true;
                    continue; // the same request again, with the token
                }
            }
            if (isRedirect(s) && r.headers().firstValue("Location").isPresent()) {
                if (++hops > MAX_REDIRECTS) {
                    discard(r);
                    throw new IOException(what + ": more than " + MAX_REDIRECTS + " redirects");
                }
                URI next;
                try {
                    next = current.uri().resolve(r.headers().firstValue("Location").get());
                } catch (IllegalArgumentException e) {
                    discard(r);
                    throw new IOException(what + ": the registry redirected to a bad address: " + e.getMessage());
                }
                if (!"http".equalsIgnoreCase(next.getScheme()) && !"https".equalsIgnoreCase(next.getScheme())) {
                    discard(r);
                    throw new IOException(what + ": the registry redirected to " + next.getScheme() + ":");
                }
                discard(r);
                current = redirected(current, next, s);
                continue;
            }
            return r;
        }
    }

    /** Whether the operation has a token (for tests and messages). */
    boolean hasToken() {
        return token != null;
    }

    private HttpRequest authorized(HttpRequest req) {
        if (token == null || !sameRegistry(req.uri())) {
            return req;
        }
        return HttpRequest.newBuilder(req, (name, value) -> !name.equalsIgnoreCase("Authorization"))
                .header("Authorization", "Bearer " + token).build();
    }

    private boolean sameRegistry(URI uri) {
        return registry != null && registry.equals(origin(uri));
    }

    private static boolean isRedirect(int status) {
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    }

    /** The request a redirect asks for: a GET for 303 (and for a POST's 301 or 302, as browsers do), else the same. */
    private static HttpRequest redirected(HttpRequest req, URI next, int status) {
        HttpRequest.Builder b = HttpRequest.newBuilder(req, (name, value) -> !name.equalsIgnoreCase("Authorization"))
                .uri(next);
        if (status == 303 || ((status == 301 || status == 302) && req.method().equals("POST"))) {
            b.GET();
        }
        return b.build();
    }

    private <T> HttpResponse<T> sendOnce(HttpRequest req, HttpResponse.BodyHandler<T> handler, String what)
            throws IOException, InterruptedException {
        try {
            return http.send(req, handler);
        } catch (java.net.ConnectException e) {
            throw new IOException(what + ": " + req.uri().getScheme() + "://" + req.uri().getAuthority()
                    + ": cannot connect" + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")")
                    + (e.getCause() == null || e.getCause().getMessage() == null ? ""
                    : ": " + e.getCause().getMessage()), e);
        } catch (IOException e) {
            throw new IOException(what + ": " + req.uri().getScheme() + "://" + req.uri().getAuthority() + ": "
                    + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()), e);
        } catch (IllegalArgumentException e) {
            throw new IOException(what + ": " + e.getMessage(), e);
        }
    }

    /**
     * Ends a response whose body is not wanted (a redirect's, a challenge's): a short body is read to its end first,
     * so its connection can serve the next request; a long one is cut.
     */
    private static void discard(HttpResponse<?> r) {
        if (r.body() instanceof InputStream in) {
            try (in) {
                in.readNBytes(64 << 10);
            } catch (IOException ignored) {
                // nothing more to read from it either way
            }
        }
    }

    /** An anonymous token from the challenge's realm, for its service and scope. */
    private String fetchToken(Challenge c, String what) throws IOException, InterruptedException {
        StringBuilder q = new StringBuilder();
        if (c.service() != null) {
            q.append("service=").append(URLEncoder.encode(c.service(), StandardCharsets.UTF_8));
        }
        if (c.scope() != null) {
            q.append(q.isEmpty() ? "" : "&").append("scope=").append(URLEncoder.encode(c.scope(),
                    StandardCharsets.UTF_8));
        }
        URI realm;
        try {
            URI base = URI.create(c.realm());
            if (!"http".equalsIgnoreCase(base.getScheme()) && !"https".equalsIgnoreCase(base.getScheme())) {
                throw new IllegalArgumentException("not http(s)");
            }
            realm = q.isEmpty() ? base : URI.create(c.realm() + (c.realm().contains("?") ? "&" : "?") + q);
        } catch (IllegalArgumentException e) {
            throw new IOException(what + ": the registry asked for a token from a bad realm \"" + c.realm() + "\"");
        }
        HttpRequest req = HttpRequest.newBuilder(realm).timeout(Duration.ofMinutes(1)).GET().build();
        HttpResponse<InputStream> r = new RegistryAuth(http, realm)
                .follow(req, HttpResponse.BodyHandlers.ofInputStream(), what, false);
        try (InputStream in = r.body()) {
            if (r.statusCode() == 401 || r.statusCode() == 403) {
                throw new IOException(what + ": the registry wants a login (its token service " + realm.getAuthority()
                        + " answered HTTP " + r.statusCode() + " to an anonymous request); registry logins, and "
                        + "Ollama's signed requests, are not supported by Gantry");
            }
            if (r.statusCode() != 200) {
                throw new IOException(what + ": the registry's token service " + realm.getAuthority()
                        + " answered HTTP " + r.statusCode());
            }
            byte[] body = in.readNBytes(MAX_TOKEN_BODY);
            com.fasterxml.jackson.databind.JsonNode json;
            try {
                json = StoreJson.MAPPER.readTree(body);
            } catch (IOException e) {
                throw new IOException(what + ": the registry's token service answered no JSON");
            }
            String t = json.path("token").asText("");
            if (t.isEmpty()) {
                t = json.path("access_token").asText("");
            }
            if (t.isEmpty()) {
                throw new IOException(what + ": the registry's token service answered no token");
            }
            return t;
        }
    }
}
