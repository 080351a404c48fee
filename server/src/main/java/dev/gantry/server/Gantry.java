package dev.gantry.server;

import dev.gantry.models.BuiltinModels;
import dev.gantry.models.ModelRegistry;
import dev.gantry.runtime.HostMemoryGuard;
import dev.gantry.runtime.ModelManager;
import dev.gantry.runtime.ReplicaPlanner;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.engine.llama.LlamaCppEngineFactory;
import dev.gantry.server.api.ollama.CompletionHandlers;
import dev.gantry.server.api.ollama.ModelHandlers;
import dev.gantry.server.http.ApiRouter;
import dev.gantry.server.http.ApiServer;
import dev.gantry.server.http.BodyLimits;
import dev.gantry.server.http.EdgePolicy;
import dev.gantry.server.http.OriginMatcher;
import dev.gantry.server.ops.AgentReport;
import dev.gantry.server.ops.LoadAgent;
import io.netty.handler.codec.http.HttpMethod;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * A running Gantry: the model registry, the model manager and the HTTP server, wired together. Used by
 * {@link Main} and by tests, which start it on a free port.
 */
public final class Gantry implements AutoCloseable {
    private final ModelManager models;
    private final ApiRouter router;
    private final ApiServer server;
    private final LoadAgent agent;

    private Gantry(ModelManager models, ApiRouter router, ApiServer server, LoadAgent agent) {
        this.models = models;
        this.router = router;
        this.server = server;
        this.agent = agent;
    }

    /** Starts serving; the engine factory decides how models are loaded (llama.cpp, or a fake in tests). */
    public static Gantry start(ServerConfig config, EngineFactory engines) throws InterruptedException {
        return start(config, engines, ReplicaPlanner.llamaDefault());
    }

    /** Starts serving with replicas placed by {@code planner}. */
    public static Gantry start(ServerConfig config, EngineFactory engines, ReplicaPlanner planner)
            throws InterruptedException {
        ModelRegistry registry;
        try {
            registry = new ModelRegistry(config.modelsDir().orElse(null),
                    BuiltinModels.extractAll(config.cacheDir()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot unpack the built-in model into " + config.cacheDir(), e);
        }
        boolean noGpu = engines instanceof LlamaCppEngineFactory l && !l.hasGpu();
        ModelManager models = new ModelManager(registry, engines, config.runtime(),
                Runtime.getRuntime().availableProcessors(), HostMemoryGuard.of(planner, noGpu));
        ApiRouter router = routes(models);
        try {
            EdgeConfig edge = config.edge();
            EdgePolicy policy = EdgePolicy.forListener(config.host(), EdgeConfig.isLoopback(config.host()),
                    edge.apiKey(), OriginMatcher.of(edge.origins()),
                    new BodyLimits(config.maxBodyBytes(), edge.bodyLimits().byPrefix()));
            ApiServer server = ApiServer.start(config.host(), config.port(), router, config.ioThreads(),
                    config.maxBodyBytes(), policy);
            LoadAgent agent = null;
            if (edge.agentPort() >= 0) {
                try {
                    // always ready for now: the SIGTERM drain, when it lands, feeds its state here to report drain
                    agent = LoadAgent.start(config.host(), edge.agentPort(), new AgentReport(models, () -> false));
                } catch (RuntimeException e) {
                    server.close();
                    throw e;
                }
            }
            return new Gantry(models, router, server, agent);
        } catch (RuntimeException | InterruptedException e) {
            router.close();
            models.close();
            throw e;
        }
    }

    static ApiRouter routes(ModelManager models) {
        ModelHandlers info = new ModelHandlers(models);
        CompletionHandlers completions = new CompletionHandlers(models);
        return new ApiRouter()
                .route(HttpMethod.GET, "/", info::root)
                .route(HttpMethod.GET, "/api/version", info::version)
                // a minimal readiness probe for HAProxy and Kubernetes: answering at all means serving
                .route(HttpMethod.GET, "/ready", info::root)
                .route(HttpMethod.GET, "/api/tags", info::tags)
                .route(HttpMethod.POST, "/api/show", info::show)
                .route(HttpMethod.GET, "/api/ps", info::ps)
                .route(HttpMethod.POST, "/api/generate", completions::generate)
                .route(HttpMethod.POST, "/api/chat", completions::chat);
    }

    public int port() {
        return server.port();
    }

    /** The HAProxy agent-check port, or -1 when there is no agent. */
    public int agentPort() {
        return agent == null ? -1 : agent.port();
    }

    public ModelManager models() {
        return models;
    }

    @Override
    public void close() {
        if (agent != null) {
            agent.close();
        }
        server.close();
        router.close();
        models.close();
    }
}
