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
    /** What a request refused while draining is told: try again (elsewhere, or here once restarted) in a moment. */
    static final int DRAIN_RETRY_AFTER_SECONDS = 5;

    /** Handles one request; may respond later from another thread. */
    @FunctionalInterface
    public interface Handler {
        void handle(Exchange exchange) throws Exception;
    }

    private final Map<String, Map<HttpMethod, Handler>> routes = new LinkedHashMap<>();
    /** Paths answered while draining (health, readiness, metrics); every other path gets 503 then. */
    private final java.util.Set<String> openWhileDraining = new java.util.HashSet<>();
    private final java.util.Set<Exchange> inFlight = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private volatile boolean draining;
    private final ExecutorService workers = Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("request-", 0).factory());

    public ApiRouter route(HttpMethod method, String path, Handler handler) {
        routes.computeIfAbsent(path, p -> new LinkedHashMap<>()).put(method, handler);
        if (method.equals(HttpMethod.GET)) {
            routes.get(path).putIfAbsent(HttpMethod.HEAD, handler);
        }
        return this;
    }

    /** A route that keeps answering while the server drains, for load balancers and monitoring. */
    public ApiRouter operationsRoute(HttpMethod method, String path, Handler handler) {
        openWhileDraining.add(path);
        return route(method, path, handler);
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

    void dispatch(Exchange ex) {
        String path = normalise(ex.path());
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
            inFlight.remove(ex);
            ex.sendError(404, "404 page not found");
            return;
        }
        Handler h = byMethod.get(ex.method());
        if (h == null) {
            inFlight.remove(ex);
            ex.sendError(405, "405 method not allowed");
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

    private static String normalise(String path) {
        return path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    }

    @Override
    public void close() {
        workers.shutdownNow();
    }
}
