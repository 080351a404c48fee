package dev.gantry.server.ops;

import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.ModelManager;
import dev.gantry.runtime.Replica;
import dev.gantry.runtime.gpu.GpuSnapshot;
import dev.gantry.runtime.runner.RunnerConfig;
import dev.gantry.runtime.runner.RunnerStats;
import dev.gantry.server.http.ApiRouter;
import dev.gantry.server.http.Exchange;
import dev.gantry.server.http.Json;
import dev.gantry.server.ops.alert.AlertMonitor;
import dev.gantry.server.ops.alert.AlertSink;
import dev.gantry.server.ops.alert.WebhookNotifier;
import io.netty.handler.codec.http.HttpMethod;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * What an operator and a load balancer see of a running Gantry: {@code /metrics}, {@code /health}, {@code /ready},
 * the GPU alerts, and the drain on SIGTERM. Owned by {@code Gantry}; thread-safe.
 */
public final class Operations implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("gantry.server");
    /** How long requests ended at the drain deadline get to write their last line before the server closes. */
    private static final Duration ABORT_GRACE = Duration.ofSeconds(5);

    private final ModelManager models;
    private final OpsConfig config;
    private final GantryMetrics metrics;
    private volatile ServingState state = ServingState.STARTING;
    private final List<AutoCloseable> owned = new ArrayList<>();

    public Operations(ModelManager models, OpsConfig config) {
        this.models = models;
        this.config = config;
        this.metrics = new GantryMetrics(models);
    }

    public OpsConfig config() {
        return config;
    }

    public GantryMetrics metrics() {
        return metrics;
    }

    public ServingState state() {
        return state;
    }

    /** Adds {@code /health}, {@code /ready} and {@code /metrics}, which keep answering while the server drains. */
    public ApiRouter routes(ApiRouter router) {
        return router.operationsRoute(HttpMethod.GET, "/health", this::health)
                .operationsRoute(HttpMethod.GET, "/ready", this::ready)
                .operationsRoute(HttpMethod.GET, "/metrics", this::metrics);
    }

    /** The server is bound and takes requests. */
    public void serving() {
        if (state == ServingState.STARTING) {
            state = ServingState.SERVING;
        }
    }

    /**
     * Watches the GPUs: their figures go to {@code /metrics} and their alerts to the log and, when
     * {@code GANTRY_ALERT_WEBHOOK} is set, to the webhook.
     *
     * @param period how often the snapshot changes (the GPU monitor's period)
     */
    public synchronized void watchGpus(Supplier<GpuSnapshot> gpus, Duration period) {
        close(); // a second call replaces the first
        metrics.gpus(gpus);
        List<AlertSink> sinks = new ArrayList<>();
        sinks.add(AlertSink.LOG);
        config.alertWebhook().ifPresent(uri -> {
            WebhookNotifier webhook = WebhookNotifier.to(uri);
            owned.add(webhook);
            sinks.add(webhook);
        });
        owned.addFirst(AlertMonitor.start(config.alertRules(), gpus, this::waitingRequests, sinks, period));
    }

    /**
     * Stops taking requests and lets those in flight finish, up to {@code GANTRY_DRAIN_SECONDS}; past it, ends the
     * rest with an error (a last {@code {"error": ...}} line for a stream). Returns when no request is left, or the
     * grace after the deadline is over.
     *
     * @return whether every request in flight finished by itself
     */
    public boolean drain(ApiRouter router) {
        state = ServingState.DRAINING;
        router.drain();
        long deadline = System.nanoTime() + config.drainTimeout().toNanos();
        LOG.log(System.Logger.Level.INFO, "draining: {0} request(s) in flight, up to {1} s", router.inFlight(),
                config.drainTimeout().toMillis() / 1000.0);
        boolean clean = waitUntilIdle(router, deadline);
        if (!clean) {
            LOG.log(System.Logger.Level.WARNING, "drain deadline passed: ending {0} request(s) still in flight",
                    router.inFlight());
            router.abortInFlight("server is shutting down: the request did not finish within the drain deadline");
            waitUntilIdle(router, System.nanoTime() + ABORT_GRACE.toNanos());
        } else {
            LOG.log(System.Logger.Level.INFO, "drained: every request finished");
        }
        state = ServingState.STOPPED;
        return clean;
    }

    private static boolean waitUntilIdle(ApiRouter router, long deadline) {
        while (router.inFlight() > 0) {
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            try {
                Thread.sleep(Math.min(20, Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    void health(Exchange ex) {
        ServingState s = state;
        ex.sendJson(s == ServingState.SERVING ? 200 : 503, Json.write(Map.of("status", s.wire())));
    }

    void ready(Exchange ex) {
        ServingState s = state;
        Map<String, Object> body = new LinkedHashMap<>();
        if (s != ServingState.SERVING) {
            body.put("ready", false);
            body.put("reason", s.wire());
            ex.sendJson(503, Json.write(body));
            return;
        }
        int replicas = 0;
        int full = 0;
        for (LoadedModel m : models.loaded()) {
            for (Replica r : m.replicas()) {
                replicas++;
                if (queueFull(r.runner().stats(), r.runner().config())) {
                    full++;
                }
            }
        }
        boolean ready = replicas == 0 || full < replicas;
        body.put("ready", ready);
        if (!ready) {
            body.put("reason", "every replica's queue is full");
        }
        body.put("replicas", replicas);
        body.put("replicas_full", full);
        ex.sendJson(ready ? 200 : 503, Json.write(body));
    }

    void metrics(Exchange ex) {
        ex.send(200, GantryMetrics.CONTENT_TYPE, Exchange.utf8(metrics.scrape()));
    }

    static boolean queueFull(RunnerStats s, RunnerConfig c) {
        return s.active() + s.waiting() >= c.maxSequences() + c.maxQueue();
    }

    private int waitingRequests() {
        int waiting = 0;
        for (LoadedModel m : models.loaded()) {
            waiting += m.stats().waiting();
        }
        return waiting;
    }

    @Override
    public synchronized void close() {
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "closing " + c + " failed", e);
            }
        }
        owned.clear();
    }
}
