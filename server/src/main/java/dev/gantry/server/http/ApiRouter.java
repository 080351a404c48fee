package dev.gantry.server.http;

import io.netty.handler.codec.http.HttpMethod;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Maps method and path to a handler and runs it off the event loop, on a virtual thread, so a handler may wait
 * for a model to load or read the model folder. Every failure a handler throws becomes Ollama's
 * {@code {"error": "..."}} with the status {@link ErrorMapper} picks; an unknown path is 404, a known path with
 * the wrong method 405. Thread-safe once built.
 */
public final class ApiRouter implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("gantry.server");

    /** Handles one request; may respond later from another thread. */
    @FunctionalInterface
    public interface Handler {
        void handle(Exchange exchange) throws Exception;
    }

    private final Map<String, Map<HttpMethod, Handler>> routes = new LinkedHashMap<>();
    /** Routes for a path prefix followed by one parameter ({@code /v1/models/{model}}); tried after exact paths. */
    private final Map<String, Map<HttpMethod, Handler>> prefixes = new LinkedHashMap<>();
    private final ExecutorService workers = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("request-", 0).factory());

    public ApiRouter route(HttpMethod method, String path, Handler handler) {
        routes.computeIfAbsent(path, p -> new LinkedHashMap<>()).put(method, handler);
        if (method.equals(HttpMethod.GET)) {
            routes.get(path).putIfAbsent(HttpMethod.HEAD, handler);
        }
        return this;
    }

    /**
     * Routes every path that starts with {@code prefix} and has more after it; the handler reads the rest from
     * {@link Exchange#path()}.
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
        Map<HttpMethod, Handler> byMethod = routes.get(normalise(ex.path()));
        if (byMethod == null) {
            byMethod = byPrefix(normalise(ex.path()));
        }
        if (byMethod == null) {
            ex.sendError(404, "404 page not found");
            return;
        }
        Handler h = byMethod.get(ex.method());
        if (h == null) {
            ex.sendError(405, "405 method not allowed");
            return;
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

    private static String normalise(String path) {
        return path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    }

    @Override
    public void close() {
        workers.shutdownNow();
    }
}
