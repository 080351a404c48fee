package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.ModelManager;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.runner.GenerationHandle;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.TokenRelay;
import dev.gantry.server.http.ApiException;
import dev.gantry.server.http.Exchange;
import dev.gantry.server.http.Json;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;

/**
 * {@code POST /api/generate} and {@code POST /api/chat}: validate, render the prompt, tokenize, and hand the
 * generation to the model's runner; tokens come back through a {@link TokenRelay} on the connection's event loop.
 * A closed connection cancels the generation, which frees its sequence at the runner's next step.
 */
public final class CompletionHandlers {
    private static final System.Logger LOG = System.getLogger("gantry.api");
    private static final Set<String> ROLES = Set.of("system", "user", "assistant", "tool");

    private final ModelManager models;

    public CompletionHandlers(ModelManager models) {
        this.models = models;
    }

    public void generate(Exchange ex) throws InterruptedException {
        long start = System.nanoTime();
        ObjectNode body = Json.parseObject(ex.body());
        String model = Json.requiredString(body, "model");
        String prompt = Json.string(body, "prompt").orElse("");
        String system = Json.string(body, "system").orElse(null);
        boolean raw = Json.bool(body, "raw").orElse(false);
        boolean stream = Json.bool(body, "stream").orElse(true);
        Duration keepAlive = KeepAlive.parse(body.get("keep_alive"));
        ObjectNode requestOptions = Json.object(body, "options").orElse(null);
        OllamaOptions options = OllamaOptions.parse(requestOptions);
        boolean truncate = Json.bool(body, "truncate").orElse(true);
        rejectUnsupported(body, model);
        String grammar = FormatOption.grammar(body.get("format"));
        if (body.has("context")) {
            LOG.log(System.Logger.Level.WARNING, "ignoring the deprecated context field of /api/generate");
        }

        boolean loadOnly = prompt.isEmpty() && (system == null || system.isEmpty());
        if (loadOnly && unloadWithoutLoading(ex, CompletionStream.Shape.GENERATE, model, keepAlive)) {
            return;
        }
        LoadedModel m = acquire(model, keepAlive, options);
        if (loadOnly) {
            loadOnly(ex, CompletionStream.Shape.GENERATE, m, keepAlive);
            return;
        }
        options = ModelDefaults.options(m.model(), requestOptions);
        String text;
        if (raw || !m.hasChatTemplate()) {
            // Ollama's default template for a model without one is the prompt alone.
            text = system == null || raw ? prompt : system + "\n\n" + prompt;
        } else {
            List<Engine.ChatMessage> msgs = new ArrayList<>();
            if (system != null && !system.isEmpty()) {
                msgs.add(new Engine.ChatMessage("system", system));
            }
            msgs.add(new Engine.ChatMessage("user", prompt));
            text = m.applyChatTemplate(msgs, true);
        }
        run(ex, m, text, options, grammar, stream, truncate, CompletionStream.Shape.GENERATE, start, model);
    }

    public void chat(Exchange ex) throws InterruptedException {
        long start = System.nanoTime();
        ObjectNode body = Json.parseObject(ex.body());
        String model = Json.requiredString(body, "model");
        boolean stream = Json.bool(body, "stream").orElse(true);
        Duration keepAlive = KeepAlive.parse(body.get("keep_alive"));
        ObjectNode requestOptions = Json.object(body, "options").orElse(null);
        OllamaOptions options = OllamaOptions.parse(requestOptions);
        boolean truncate = Json.bool(body, "truncate").orElse(true);
        List<Engine.ChatMessage> messages = messages(body.get("messages"));
        rejectUnsupported(body, model);
        String grammar = FormatOption.grammar(body.get("format"));
        JsonNode tools = body.get("tools");
        if (tools != null && !tools.isNull() && !(tools.isArray() && tools.isEmpty())) {
            throw ApiException.badRequest("registry.ollama.ai/library/" + model + " does not support tools");
        }
        if (messages.isEmpty() && unloadWithoutLoading(ex, CompletionStream.Shape.CHAT, model, keepAlive)) {
            return;
        }
        LoadedModel m = acquire(model, keepAlive, options);
        if (messages.isEmpty()) {
            loadOnly(ex, CompletionStream.Shape.CHAT, m, keepAlive);
            return;
        }
        options = ModelDefaults.options(m.model(), requestOptions);
        OllamaOptions chatOptions = options;
        List<Engine.ChatMessage> fitting = ContextWindow.dropOldest(messages,
                msgs -> m.tokenize(m.applyChatTemplate(msgs, true), true, true).length,
                ContextWindow.of(m.contextLength(), chatOptions.numCtx()), chatOptions.numPredict(), truncate);
        String text = m.applyChatTemplate(fitting, true);
        run(ex, m, text, options, grammar, stream, truncate, CompletionStream.Shape.CHAT, start, model);
    }

    private void run(Exchange ex, LoadedModel m, String text, OllamaOptions options, String grammar, boolean stream,
                     boolean truncate, CompletionStream.Shape shape, long start, String requestedName) {
        int window = ContextWindow.of(m.contextLength(), options.numCtx());
        int[] tokens = ContextWindow.fit(m.tokenize(text, true, true), window, options.numPredict(), truncate);
        long loadNanos = System.nanoTime() - start;
        CompletionStream sink = new CompletionStream(ex, shape, requestedName, stream, start, loadNanos);
        TokenRelay relay = new TokenRelay(ex.eventLoop(), m::piece, options.stop(), sink);
        GenerationHandle handle = m.generate(new GenerationRequest(tokens, options.sampling().withGrammar(grammar),
                options.numPredict(), window), relay);
        relay.bind(handle);
        ex.onClose(handle::cancel);
        if (!ex.isOpen()) {
            handle.cancel();
        }
    }

    private void loadOnly(Exchange ex, CompletionStream.Shape shape, LoadedModel m, Duration keepAlive) {
        String reason = "load";
        if (keepAlive != null && keepAlive.isZero()) {
            models.unload(m.model().name().toString());
            reason = "unload";
        }
        ex.sendJson(200, Json.write(CompletionStream.loadOnly(shape, m.name(), reason)));
    }

    /**
     * {@code keep_alive: 0} with nothing to generate, for a model that is not loaded: answers {@code unload} without
     * loading it first, as Ollama does. False when the request must load (or unload) the model.
     */
    private boolean unloadWithoutLoading(Exchange ex, CompletionStream.Shape shape, String name, Duration keepAlive) {
        if (keepAlive == null || !keepAlive.isZero() || models.loadedModel(name).isPresent()) {
            return false;
        }
        dev.gantry.models.LocalModel local = models.registry().resolve(name)
                .orElseThrow(() -> new dev.gantry.runtime.ModelNotFoundException(name));
        ex.sendJson(200, Json.write(CompletionStream.loadOnly(shape, local.name().shortName(), "unload")));
        return true;
    }

    private LoadedModel acquire(String name, Duration keepAlive, OllamaOptions options) throws InterruptedException {
        try {
            return models.acquire(name, keepAlive, options.load()).get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        }
    }

    private static List<Engine.ChatMessage> messages(JsonNode node) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (!node.isArray()) {
            throw Json.wrongType("messages", "a list of messages", node);
        }
        List<Engine.ChatMessage> out = new ArrayList<>();
        int i = 0;
        for (JsonNode n : node) {
            if (!(n instanceof ObjectNode o)) {
                throw Json.wrongType("messages[" + i + "]", "an object", n);
            }
            int index = i;
            String role = Json.string(o, "role").orElseThrow(() -> ApiException.badRequest("messages[" + index
                    + "].role is required"));
            if (!ROLES.contains(role)) {
                throw ApiException.badRequest("invalid role \"" + role + "\" in messages: expected one of "
                        + String.join(", ", ROLES.stream().sorted().toList()));
            }
            String content = Json.string(o, "content").orElse("");
            JsonNode images = o.get("images");
            if (images != null && !images.isNull() && !(images.isArray() && images.isEmpty())) {
                throw ApiException.badRequest("this model does not support images");
            }
            out.add(new Engine.ChatMessage(role, content));
            i++;
        }
        return out;
    }

    private static void rejectUnsupported(ObjectNode body, String model) {
        JsonNode images = body.get("images");
        if (images != null && !images.isNull() && !(images.isArray() && images.isEmpty())) {
            throw ApiException.badRequest("registry.ollama.ai/library/" + model + " does not support images");
        }
        if (Json.string(body, "suffix").filter(s -> !s.isEmpty()).isPresent()) {
            throw ApiException.badRequest("registry.ollama.ai/library/" + model + " does not support insert");
        }
        if (Json.string(body, "template").filter(s -> !s.isEmpty()).isPresent()) {
            throw ApiException.badRequest("a template override is not supported by this Gantry version yet");
        }
    }
}
