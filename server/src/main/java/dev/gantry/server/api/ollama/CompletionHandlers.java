package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.models.chat.ChatMessage;
import dev.gantry.models.chat.ChatOutputParser;
import dev.gantry.models.chat.PromptBuilder;
import dev.gantry.models.chat.ToolCall;
import dev.gantry.models.template.JsonValues;
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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
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
        String template = Json.string(body, "template").filter(t -> !t.isBlank()).orElse(null);
        Boolean think = think(body);
        requireThinking(m, model, think, template);
        if (raw) {
            text = prompt;
        } else if (!m.hasChatTemplate() && template == null) {
            // Ollama's default template for a model without one is the prompt alone.
            text = system == null ? prompt : system + "\n\n" + prompt;
        } else {
            List<ChatMessage> msgs = new ArrayList<>();
            if (system != null && !system.isEmpty()) {
                msgs.add(ChatMessage.of("system", system));
            }
            msgs.add(ChatMessage.of("user", prompt));
            text = prompts(m).build(new PromptBuilder.Request(m.chatTemplateSource().orElse(null), template, null,
                    msgs, List.of(), think)).text();
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
        List<ChatMessage> messages = messages(body.get("messages"));
        rejectUnsupported(body, model);
        List<Object> tools = tools(body.get("tools"));
        String template = Json.string(body, "template").filter(t -> !t.isBlank()).orElse(null);
        Boolean think = think(body);
        LoadedModel m = acquire(model, keepAlive);
        requireThinking(m, model, think, template);
        String gguf = m.chatTemplateSource().orElse(null);
        if (!tools.isEmpty() && !supportsTools(gguf, template)) {
            throw ApiException.badRequest("registry.ollama.ai/library/" + model + " does not support tools");
        }
        if (messages.isEmpty()) {
            loadOnly(ex, CompletionStream.Shape.CHAT, m, keepAlive);
            return;
        }
        PromptBuilder.Prompt prompt = prompts(m).build(new PromptBuilder.Request(gguf, template, null, messages, tools,
                think));
        Set<String> toolNames = new LinkedHashSet<>();
        for (Object t : tools) {
            if (t instanceof Map<?, ?> tool && tool.get("function") instanceof Map<?, ?> fn
                    && fn.get("name") instanceof String name) {
                toolNames.add(name);
            }
        }
        if (!tools.isEmpty() && toolNames.isEmpty()) {
            toolNames.add("");
        }
        ChatOutputParser parser = new ChatOutputParser(Boolean.TRUE.equals(think),
                Boolean.TRUE.equals(think) && prompt.thinkingOpen(), toolNames);
        run(ex, m, prompt.text(), options, stream, truncate, CompletionStream.Shape.CHAT, start, model, parser);
    }

    /** The prompt builder for a model: its special tokens and llama.cpp's built-in renderer as the fallback. */
    private static PromptBuilder prompts(LoadedModel m) {
        String[] special = m.specialTokenTexts();
        return new PromptBuilder(new PromptBuilder.Tokens(special[0], special[1]), (tmpl, msgs, add) ->
                m.applyChatTemplate(msgs.stream().map(x -> new Engine.ChatMessage(x.role(), x.content())).toList(),
                        add));
    }

    private static boolean supportsTools(String gguf, String template) {
        if (template != null) {
            return template.contains(".Tools") || template.contains(".ToolCalls");
        }
        return gguf != null && gguf.contains("tools");
    }

    /** {@code think}: a boolean, or a level ({@code "high"}, ...) that counts as on; null when absent. */
    private static Boolean think(ObjectNode body) {
        JsonNode t = body.get("think");
        if (t == null || t.isNull()) {
            return null;
        }
        if (t.isBoolean()) {
            return t.booleanValue();
        }
        if (t.isTextual()) {
            return switch (t.textValue()) {
                case "high", "medium", "low", "true" -> true;
                case "false", "" -> false;
                default -> throw ApiException.badRequest("invalid think value \"" + t.textValue()
                        + "\": expected true, false, \"high\", \"medium\" or \"low\"");
            };
        }
        throw Json.wrongType("think", "a boolean", t);
    }

    private static void requireThinking(LoadedModel m, String model, Boolean think, String template) {
        if (Boolean.TRUE.equals(think)
                && !PromptBuilder.supportsThinking(m.chatTemplateSource().orElse(null), template)) {
            throw ApiException.badRequest("\"" + model + "\" does not support thinking");
        }
    }

    private static List<Object> tools(JsonNode node) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (!node.isArray()) {
            throw Json.wrongType("tools", "a list of tools", node);
        }
        for (int i = 0; i < node.size(); i++) {
            if (!node.get(i).isObject()) {
                throw Json.wrongType("tools[" + i + "]", "an object", node.get(i));
            }
        }
        @SuppressWarnings("unchecked")
        List<Object> out = (List<Object>) JsonValues.parse(node.toString());
        return out;
    }

    private void run(Exchange ex, LoadedModel m, String text, OllamaOptions options, boolean stream, boolean truncate,
                     CompletionStream.Shape shape, long start, String requestedName) {
        run(ex, m, text, options, stream, truncate, shape, start, requestedName, null);
    }

    private void run(Exchange ex, LoadedModel m, String text, OllamaOptions options, boolean stream, boolean truncate,
                     CompletionStream.Shape shape, long start, String requestedName, ChatOutputParser parser) {
        int[] tokens = fit(m, dropDoubleBos(m.tokenize(text, true, true)), options.numPredict(), truncate);
        long loadNanos = System.nanoTime() - start;
        CompletionStream sink = new CompletionStream(ex, shape, requestedName, stream, start, loadNanos, parser);
        TokenRelay relay = new TokenRelay(ex.eventLoop(), m::piece, options.stop(), sink);
        GenerationHandle handle = m.generate(new GenerationRequest(tokens, options.sampling(), options.numPredict()),
                relay);
        relay.bind(handle);
        ex.onClose(handle::cancel);
        if (!ex.isOpen()) {
            handle.cancel();
        }
    }

    /** A template that wrote its own BOS after the tokenizer added one: keep one, as llama.cpp does. */
    private static int[] dropDoubleBos(int[] tokens) {
        if (tokens.length >= 2 && tokens[0] == tokens[1]) {
            return java.util.Arrays.copyOfRange(tokens, 1, tokens.length);
        }
        return tokens;
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

    private static List<ChatMessage> messages(JsonNode node) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (!node.isArray()) {
            throw Json.wrongType("messages", "a list of messages", node);
        }
        List<ChatMessage> out = new ArrayList<>();
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
            String thinking = Json.string(o, "thinking").orElse(null);
            String toolName = Json.string(o, "tool_name").or(() -> Json.string(o, "name")).orElse(null);
            out.add(new ChatMessage(role, content, thinking, toolCalls(o.get("tool_calls"), i), toolName));
            i++;
        }
        return out;
    }

    /** {@code [{"function": {"name": ..., "arguments": {...}}}]}; arguments may also come as a JSON string. */
    @SuppressWarnings("unchecked")
    private static List<ToolCall> toolCalls(JsonNode node, int message) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        String where = "messages[" + message + "].tool_calls";
        if (!node.isArray()) {
            throw Json.wrongType(where, "a list of tool calls", node);
        }
        List<ToolCall> out = new ArrayList<>();
        for (JsonNode c : node) {
            JsonNode fn = c.get("function");
            if (fn == null || !fn.isObject() || !fn.path("name").isTextual()) {
                throw ApiException.badRequest(where + ": each tool call needs function.name");
            }
            JsonNode args = fn.get("arguments");
            Map<String, Object> arguments = new java.util.LinkedHashMap<>();
            if (args != null && args.isObject()) {
                arguments = (Map<String, Object>) JsonValues.parse(args.toString());
            } else if (args != null && args.isTextual() && !args.textValue().isBlank()) {
                try {
                    if (JsonValues.parse(args.textValue()) instanceof Map<?, ?> parsed) {
                        arguments = (Map<String, Object>) parsed;
                    }
                } catch (IllegalArgumentException e) {
                    throw ApiException.badRequest(where + ": arguments is not a JSON object");
                }
            } else if (args != null && !args.isNull()) {
                throw Json.wrongType(where + ".function.arguments", "an object", args);
            }
            out.add(new ToolCall(fn.get("name").textValue(), arguments));
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
        JsonNode template = body.get("template");
        if (template != null && !template.isNull() && !template.isTextual()) {
            throw Json.wrongType("template", "a string", template);
        }
    }
}
