package dev.gantry.server.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Maps method and path to a handler (exact paths, or patterns with {@code :name} segments such as
 * {@code /api/blobs/:digest}, which match one non-empty segment) and runs it off the event loop, on a virtual thread, so a handler may wait
 * for a model to load or read the model folder. Every failure a handler throws becomes Ollama's
 * {@code {"error": "..."}} with the status {@link ErrorMapper} picks; an unknown path is 404, a known path with
 * the wrong method 405. Thread-safe once built.
 */
public final class ApiRouter implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("gantry.server");
    /** What a request refused while draining is told: try again (elsewhere, or here once restarted) in a moment. */
    static final int DRAIN_RETRY_AFTER_SECONDS = 5;

    /** Handles one request; may respond later from another thread. */
    @FunctionalInterface
    public interface Handler {
        void handle(Exchange exchange) throws Exception;
    }

    private final Map<String, Map<HttpMethod, Handler>> routes = new LinkedHashMap<>();
    /** Routes for a path prefix followed by one parameter ({@code /v1/models/{model}}); tried after the patterns. */
    private final Map<String, Map<HttpMethod, Handler>> prefixes = new LinkedHashMap<>();
    /** Paths answered while draining (health, readiness, metrics); every other path gets 503 then. */
    private final java.util.Set<String> openWhileDraining = new java.util.HashSet<>();
    private final java.util.Set<Exchange> inFlight = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** How the server's own refusals (a drain's 503) are worded under a path prefix; Ollama's elsewhere. */
    private final Map<String, Exchange.ErrorFormat> errorFormats = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile boolean draining;
    /** Routes with {@code :name} segments, by pattern, tried in order after the exact paths. */
    private final Map<List<String>, Map<HttpMethod, Handler>> patterns = new LinkedHashMap<>();
    /** Handlers that read the request body themselves as it arrives (large uploads), by pattern. */
    private final Map<List<String>, Map<HttpMethod, StreamingHandler>> streaming = new LinkedHashMap<>();

    /**
     * Handles a request whose body is too large to hold in memory: called on the event loop when the head arrives,
     * it returns the sink the body's chunks are written to. See {@link BodySink}.
     */
    @FunctionalInterface
    public interface StreamingHandler {
        BodySink open(Exchange exchange) throws Exception;
    }

    /**
     * Receives a streamed request body on the connection's event loop, chunk by chunk, then {@link #end} once;
     * {@link #abort} instead when the connection closes first. A sink that fails in {@link #write} is aborted and
     * the client gets the failure.
     */
    public interface BodySink {
        void write(java.nio.ByteBuffer chunk) throws Exception;

        /** The whole body arrived: answer the exchange (off the event loop if it blocks for long). */
        void end(Exchange exchange) throws Exception;

        void abort();
    }
    private final ExecutorService workers = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("request-", 0).factory());

    public ApiRouter route(HttpMethod method, String path, Handler handler) {
        Map<HttpMethod, Handler> byMethod = path.contains("/:")
                ? patterns.computeIfAbsent(segments(path), p -> new LinkedHashMap<>())
                : routes.computeIfAbsent(path, p -> new LinkedHashMap<>());
        byMethod.put(method, handler);
        if (method.equals(HttpMethod.GET)) {
            byMethod.putIfAbsent(HttpMethod.HEAD, handler);
        }
        return this;
    }

    /** A route whose request body is streamed to {@code handler} instead of being read whole first. */
    public ApiRouter streamingRoute(HttpMethod method, String path, StreamingHandler handler) {
        streaming.computeIfAbsent(segments(path), p -> new LinkedHashMap<>()).put(method, handler);
        return this;
    }

    /** The streaming handler for a request head, if one is routed there; fills in the exchange's path parameters. */
    StreamingHandler streamingHandler(HttpMethod method, String path, Exchange ex) {
        List<String> actual = segments(normalise(path));
        for (Map.Entry<List<String>, Map<HttpMethod, StreamingHandler>> e : streaming.entrySet()) {
            Map<String, String> params = match(e.getKey(), actual);
            StreamingHandler h = params == null ? null : e.getValue().get(method);
            if (h != null) {
                if (ex != null) {
                    ex.pathParams(params);
                }
                return h;
            }
        }
        return null;
    }

    /** A route that keeps answering while the server drains, for load balancers and monitoring. */
    public ApiRouter operationsRoute(HttpMethod method, String path, Handler handler) {
        openWhileDraining.add(path);
        return route(method, path, handler);
    }

    /**
     * Words the router's own refusals (503 while draining, the error that ends a request cut by the drain) for the
     * paths under {@code prefix} in {@code format}: OpenAI's routes answer in OpenAI's shape.
     */
    public ApiRouter errorsUnder(String prefix, Exchange.ErrorFormat format) {
        errorFormats.put(prefix, format);
        return this;
    }

    /** The error shape of the API {@code path} belongs to: the {@link #errorsUnder} prefix's, else Ollama's. */
    Exchange.ErrorFormat errorFormat(String path) {
        String p = normalise(path);
        for (Map.Entry<String, Exchange.ErrorFormat> e : errorFormats.entrySet()) {
            if (p.startsWith(e.getKey())) {
                return e.getValue();
            }
        }
        return Exchange.ErrorFormat.OLLAMA;
    }

    /** From now on, requests other than {@link #operationsRoute}s get 503 with {@code Retry-After}. */
    public void drain() {
        draining = true;
    }

    public boolean isDraining() {
        return draining;
    }

    /** Requests accepted and not yet answered in full (operations routes excluded). */
    public int inFlight() {
        return inFlight.size();
    }

    /** Ends every request in flight: see {@link Exchange#abort}. */
    public void abortInFlight(String message) {
        for (Exchange ex : inFlight) {
            ex.abort(message);
        }
    }

    /**
     * Routes every path that starts with {@code prefix} and has more after it (a model name may hold slashes); the
     * handler reads the rest from {@link Exchange#path()}.
     */
    public ApiRouter routePrefix(HttpMethod method, String prefix, Handler handler) {
        prefixes.computeIfAbsent(prefix, p -> new LinkedHashMap<>()).put(method, handler);
        if (method.equals(HttpMethod.GET)) {
            prefixes.get(prefix).putIfAbsent(HttpMethod.HEAD, handler);
        }
        return this;
    }

    private Map<HttpMethod, Handler> byPrefix(String path) {
        for (Map.Entry<String, Map<HttpMethod, Handler>> e : prefixes.entrySet()) {
            if (path.startsWith(e.getKey()) && path.length() > e.getKey().length()) {
                return e.getValue();
            }
        }
        return null;
    }

    void dispatch(Exchange ex) {
        String path = normalise(ex.path());
        errorFormats.forEach((prefix, format) -> {
            if (path.startsWith(prefix)) {
                ex.errorFormat(format);
            }
        });
        boolean operations = openWhileDraining.contains(path);
        if (!operations) {
            // counted before the drain flag is read, so a drain that starts now waits for this request
            inFlight.add(ex);
            if (draining) {
                inFlight.remove(ex);
                ex.sendUnavailable("server is shutting down", DRAIN_RETRY_AFTER_SECONDS);
                return;
            }
        }
        Map<HttpMethod, Handler> byMethod = routes.get(path);
        if (byMethod == null) {
            List<String> actual = segments(path);
            for (Map.Entry<List<String>, Map<HttpMethod, Handler>> e : patterns.entrySet()) {
                Map<String, String> params = match(e.getKey(), actual);
                if (params != null) {
                    ex.pathParams(params);
                    byMethod = e.getValue();
                    break;
                }
            }
        }
        if (byMethod == null) {
            byMethod = byPrefix(path);
        }
        if (byMethod == null) {
            inFlight.remove(ex);
            ex.sendJson(404, ex.errorBody(404, "404 page not found"));
            return;
        }
        Handler h = byMethod.get(ex.method());
        if (h == null) {
            inFlight.remove(ex);
            java.util.Set<String> methods = new java.util.TreeSet<>();
            byMethod.keySet().forEach(m -> methods.add(m.name()));
            List<String> actual = segments(path);
            streaming.forEach((pattern, handlers) -> { // a streamed upload's method is allowed too
                if (match(pattern, actual) != null) {
                    handlers.keySet().forEach(m -> methods.add(m.name()));
                }
            });
            String allow = String.join(", ", methods);
            ex.send(405, "application/json; charset=utf-8", ex.errorBody(405, "405 method not allowed"),
                    Map.of(HttpHeaderNames.ALLOW.toString(), allow));
            return;
        }
        if (!operations) {
            ex.whenDone(() -> inFlight.remove(ex));
        }
        workers.execute(() -> {
            try {
                h.handle(ex);
            } catch (Throwable t) {
                fail(ex, t);
            }
        });
    }

    /** Answers a failure in Ollama's shape: a status before the first byte, a final error line after it. */
    public static void fail(Exchange ex, Throwable t) {
        ErrorMapper.Mapped m = ErrorMapper.map(t);
        if (m.status() >= 500 && m.status() != 503) {
            LOG.log(System.Logger.Level.ERROR, ex.method() + " " + ex.path() + " failed", t);
        }
        ex.sendError(m.status(), m.message());
    }

    private static List<String> segments(String path) {
        return List.of(path.split("/", -1));
    }

    /** The {@code :name} values when {@code actual} fits {@code pattern}, else null. */
    private static Map<String, String> match(List<String> pattern, List<String> actual) {
        if (pattern.size() != actual.size()) {
            return null;
        }
        Map<String, String> params = new LinkedHashMap<>();
        for (int i = 0; i < pattern.size(); i++) {
            String p = pattern.get(i);
            String a = actual.get(i);
            if (p.startsWith(":")) {
                if (a.isEmpty()) {
                    return null;
                }
                params.put(p.substring(1), a);
            } else if (!p.equals(a)) {
                return null;
            }
        }
        return params;
    }

    private static String normalise(String path) {
        return path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    }

    @Override
    public void close() {
        workers.shutdownNow();
    }
}
