package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.ModelManager;
import dev.gantry.runtime.Submission;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.runner.GenerationHandle;
import dev.gantry.runtime.runner.GenerationRequest;
import dev.gantry.runtime.runner.QueueFullException;
import dev.gantry.runtime.runner.TokenRelay;
import dev.gantry.server.http.ApiException;
import dev.gantry.server.http.Exchange;
import dev.gantry.server.http.Json;
import dev.gantry.server.ops.GantryMetrics;
import dev.gantry.server.ops.GenerationRecorder;
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
    private final GantryMetrics metrics;

    public CompletionHandlers(ModelManager models) {
        this(models, new GantryMetrics(models));
    }

    /** @param metrics where each generation's latencies and outcome are recorded */
    public CompletionHandlers(ModelManager models, GantryMetrics metrics) {
        this.models = models;
        this.metrics = metrics;
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
        OllamaOptions options = OllamaOptions.parse(Json.object(body, "options").orElse(null));
        boolean truncate = Json.bool(body, "truncate").orElse(true);
        rejectUnsupported(body, model);
        if (body.has("context")) {
            LOG.log(System.Logger.Level.WARNING, "ignoring the deprecated context field of /api/generate");
        }

        LoadedModel m = acquire(model, keepAlive);
        if (prompt.isEmpty() && (system == null || system.isEmpty())) {
            loadOnly(ex, CompletionStream.Shape.GENERATE, m, keepAlive);
            return;
        }
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
        run(ex, m, text, options, stream, truncate, CompletionStream.Shape.GENERATE, start, model);
    }

    public void chat(Exchange ex) throws InterruptedException {
        long start = System.nanoTime();
        ObjectNode body = Json.parseObject(ex.body());
        String model = Json.requiredString(body, "model");
        boolean stream = Json.bool(body, "stream").orElse(true);
        Duration keepAlive = KeepAlive.parse(body.get("keep_alive"));
        OllamaOptions options = OllamaOptions.parse(Json.object(body, "options").orElse(null));
        boolean truncate = Json.bool(body, "truncate").orElse(true);
        List<Engine.ChatMessage> messages = messages(body.get("messages"));
        rejectUnsupported(body, model);
        JsonNode tools = body.get("tools");
        if (tools != null && !tools.isNull() && !(tools.isArray() && tools.isEmpty())) {
            throw ApiException.badRequest("registry.ollama.ai/library/" + model + " does not support tools");
        }
        LoadedModel m = acquire(model, keepAlive);
        if (messages.isEmpty()) {
            loadOnly(ex, CompletionStream.Shape.CHAT, m, keepAlive);
            return;
        }
        String text = m.applyChatTemplate(messages, true);
        run(ex, m, text, options, stream, truncate, CompletionStream.Shape.CHAT, start, model);
    }

    private void run(Exchange ex, LoadedModel m, String text, OllamaOptions options, boolean stream, boolean truncate,
                     CompletionStream.Shape shape, long start, String requestedName) {
        int[] tokens = fit(m, m.tokenize(text, true, true), options.numPredict(), truncate);
        long loadNanos = System.nanoTime() - start;
        CompletionStream sink = new CompletionStream(ex, shape, requestedName, stream, start, loadNanos);
        GenerationRecorder recorder = metrics.begin(m.name(), start);
        TokenRelay relay = new TokenRelay(ex.eventLoop(), m::piece, options.stop(),
                recorder.wrap(sink, System.nanoTime()));
        Submission submission;
        try {
            submission = m.submit(new GenerationRequest(tokens, options.sampling(), options.numPredict()), relay);
        } catch (QueueFullException e) {
            recorder.refused();
            throw e;
        }
        recorder.submitted(submission);
        GenerationHandle handle = submission.handle();
        relay.bind(handle);
        ex.onClose(handle::cancel);
        if (!ex.isOpen()) {
            handle.cancel();
        }
    }

    /**
     * Makes a prompt fit one sequence's context, as Ollama does: drop tokens from the front (keeping the first, the
     * BOS), leaving room to generate; or refuse when the request says {@code truncate: false}.
     */
    static int[] fit(LoadedModel m, int[] tokens, int numPredict, boolean truncate) {
        int ctx = m.contextLength();
        if (tokens.length < ctx) {
            return tokens;
        }
        if (!truncate) {
            throw ApiException.badRequest("the prompt of " + tokens.length + " tokens exceeds the context length of "
                    + ctx + " tokens");
        }
        int room = numPredict > 0 ? Math.min(numPredict, ctx / 2) : Math.max(1, ctx / 8);
        int keep = Math.max(1, ctx - room - 1);
        int[] out = new int[keep];
        out[0] = tokens[0];
        System.arraycopy(tokens, tokens.length - (keep - 1), out, 1, keep - 1);
        LOG.log(System.Logger.Level.WARNING, "truncated a prompt of {0} tokens to {1} to fit the context of {2}",
                tokens.length, keep, ctx);
        return out;
    }

    private void loadOnly(Exchange ex, CompletionStream.Shape shape, LoadedModel m, Duration keepAlive) {
        String reason = "load";
        if (keepAlive != null && keepAlive.isZero()) {
            models.unload(m.model().name().toString());
            reason = "unload";
        }
        ex.sendJson(200, Json.write(CompletionStream.loadOnly(shape, m.name(), reason)));
    }

    private LoadedModel acquire(String name, Duration keepAlive) throws InterruptedException {
        try {
            return models.acquire(name, keepAlive).get();
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
        JsonNode format = body.get("format");
        if (format != null && !format.isNull() && !(format.isTextual() && format.textValue().isEmpty())) {
            throw ApiException.badRequest("format (JSON output) is not supported by this Gantry version yet");
        }
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
