package dev.gantry.server;

import dev.gantry.models.BuiltinModels;
import dev.gantry.models.ModelRegistry;
import dev.gantry.runtime.HostMemoryGuard;
import dev.gantry.runtime.ModelManager;
import dev.gantry.runtime.ReplicaPlanner;
import dev.gantry.runtime.engine.EngineFactory;
import dev.gantry.runtime.engine.llama.LlamaCppEngineFactory;
import dev.gantry.server.api.ollama.CompletionHandlers;
import dev.gantry.server.api.ollama.EmbedHandlers;
import dev.gantry.server.api.ollama.ModelHandlers;
import dev.gantry.server.api.ollama.RerankHandlers;
import dev.gantry.server.api.ollama.StoreHandlers;
import dev.gantry.server.api.openai.OpenAiHandlers;
import dev.gantry.server.http.ApiRouter;
import dev.gantry.server.http.ApiServer;
import dev.gantry.server.ops.OpsConfig;
import dev.gantry.server.ops.Operations;
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
    private final Operations operations;
    private final LoadAgent agent;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    private Gantry(ModelManager models, ApiRouter router, ApiServer server, Operations operations, LoadAgent agent) {
        this.models = models;
        this.router = router;
        this.server = server;
        this.operations = operations;
        this.agent = agent;
    }

    /** Starts serving; the engine factory decides how models are loaded (llama.cpp, or a fake in tests). */
    public static Gantry start(ServerConfig config, EngineFactory engines) throws InterruptedException {
        return start(config, engines, ReplicaPlanner.llamaDefault());
    }

    /** Starts serving with replicas placed by {@code planner}. */
    public static Gantry start(ServerConfig config, EngineFactory engines, ReplicaPlanner planner)
            throws InterruptedException {
        return start(config, engines, planner, OpsConfig.defaults());
    }

    /** Starts serving, with the drain deadline and the alerts of {@code ops}. */
    public static Gantry start(ServerConfig config, EngineFactory engines, ReplicaPlanner planner, OpsConfig ops)
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
        models.splitMeasurementsFile(config.cacheDir().resolve("split-measurements.properties"));
        Operations operations = new Operations(models, ops);
        ApiRouter router = operations.routes(routes(models, operations));
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
                    // reports "drain" once SIGTERM has started the drain, so HAProxy stops sending here
                    agent = LoadAgent.start(config.host(), edge.agentPort(), new AgentReport(models, router::isDraining));
                } catch (RuntimeException e) {
                    server.close();
                    throw e;
                }
            }
            operations.serving();
            return new Gantry(models, router, server, operations, agent);
        } catch (RuntimeException | InterruptedException e) {
            router.close();
            models.close();
            throw e;
        }
    }

    static ApiRouter routes(ModelManager models, Operations operations) {
        ModelHandlers info = new ModelHandlers(models);
        CompletionHandlers completions = new CompletionHandlers(models, operations.metrics());
        StoreHandlers store = new StoreHandlers(models);
        EmbedHandlers embeds = new EmbedHandlers(models);
        RerankHandlers reranks = new RerankHandlers(models, embeds);
        OpenAiHandlers openai = new OpenAiHandlers(completions, embeds, info, reranks, models.config().maxQueue());
        return new ApiRouter()
                .route(HttpMethod.GET, "/", info::root)
                .route(HttpMethod.GET, "/api/version", info::version)
                .route(HttpMethod.GET, "/api/tags", info::tags)
                .route(HttpMethod.POST, "/api/show", info::show)
                .route(HttpMethod.GET, "/api/ps", info::ps)
                .route(HttpMethod.POST, "/api/generate", completions::generate)
                .route(HttpMethod.POST, "/api/chat", completions::chat)
                .route(HttpMethod.POST, "/api/create", store::create)
                .route(HttpMethod.POST, "/api/copy", store::copy)
                .route(HttpMethod.DELETE, "/api/delete", store::delete)
                .route(HttpMethod.POST, "/api/pull", store::pull)
                .route(HttpMethod.POST, "/api/push", store::push)
                .route(HttpMethod.HEAD, "/api/blobs/:digest", store::blobExists)
                .streamingRoute(HttpMethod.POST, "/api/blobs/:digest", store::uploadBlob)
                .route(HttpMethod.POST, "/api/embed", embeds::embed)
                .route(HttpMethod.POST, "/api/embeddings", embeds::embeddings)
                .route(HttpMethod.POST, "/v1/chat/completions", openai::chatCompletions)
                .route(HttpMethod.POST, "/v1/completions", openai::completions)
                .route(HttpMethod.POST, "/v1/embeddings", openai::embeddings)
                .route(HttpMethod.POST, "/v1/rerank", openai::rerank)
                .route(HttpMethod.POST, "/v1/reranking", openai::rerank)
                .route(HttpMethod.POST, "/rerank", openai::rerank) // llama-server's paths: its errors, OpenAI's shape
                .route(HttpMethod.POST, "/reranking", openai::rerank)
                .route(HttpMethod.GET, "/v1/models", openai::models)
                .routePrefix(HttpMethod.GET, OpenAiHandlers.MODELS_PREFIX, openai::model)
                .errorsUnder("/v1/", OpenAiHandlers.ERRORS)
                .errorsUnder("/rerank", OpenAiHandlers.ERRORS);
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

    /** Metrics, health, alerts. */
    public Operations operations() {
        return operations;
    }

    /**
     * What SIGTERM does: stop taking requests, let those in flight finish up to the drain deadline (ending the rest
     * with an error), then close. Returns whether every request finished by itself.
     */
    public boolean drainAndClose() {
        boolean clean = operations.drain(router);
        close();
        return clean;
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (agent != null) {
            agent.close();
        }
        operations.close();
        server.close();
        router.close();
        models.close();
    }
}
