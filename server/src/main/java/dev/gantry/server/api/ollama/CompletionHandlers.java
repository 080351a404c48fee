package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.models.ModelName;
import dev.gantry.models.chat.AnswerParser;
import dev.gantry.models.chat.ChatMessage;
import dev.gantry.models.chat.ChatOutputParser;
import dev.gantry.models.chat.EarlierReasoning;
import dev.gantry.models.chat.HarmonyParser;
import dev.gantry.models.chat.PromptBuilder;
import dev.gantry.models.chat.ToolCall;
import dev.gantry.models.chat.ToolCallParser;
import dev.gantry.models.template.GoTemplate;
import dev.gantry.models.template.JsonValues;
import dev.gantry.models.template.TemplateException;
import dev.gantry.models.LocalModel;
import dev.gantry.runtime.LoadedModel;
import dev.gantry.runtime.ModelManager;
import dev.gantry.runtime.Submission;
import dev.gantry.runtime.engine.Engine;
import dev.gantry.runtime.engine.SamplingParams.GrammarStart;
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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code POST /api/generate} and {@code POST /api/chat}: validate, render the prompt, tokenize, and hand the
 * generation to the model's runner; tokens come back through a {@link TokenRelay} on the connection's event loop.
 * A closed connection cancels the generation, which frees its sequence at the runner's next step.
 */
public final class CompletionHandlers {
    private static final System.Logger LOG = System.getLogger("gantry.api");

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
        generate(ex, null, PromptReport.NONE);
    }

    /** {@link #generate(Exchange)} reporting on its prompt as {@code report} says. */
    public void generate(Exchange ex, PromptReport report) throws InterruptedException {
        generate(ex, null, report);
    }

    /**
     * {@link #generate(Exchange)} of a prompt a client sent as token ids (OpenAI's and llama-server's
     * {@code /v1/completions}): they go to the model as they are, as a raw prompt's text would (no template, no
     * special tokens added); the body's {@code prompt} is not read. Each id must be in the model's vocabulary.
     */
    public void generateTokens(Exchange ex, int[] promptTokens) throws InterruptedException {
        generateTokens(ex, promptTokens, PromptReport.NONE);
    }

    /** {@link #generateTokens(Exchange, int[])} reporting on its prompt as {@code report} says. */
    public void generateTokens(Exchange ex, int[] promptTokens, PromptReport report) throws InterruptedException {
        generate(ex, java.util.Objects.requireNonNull(promptTokens), report);
    }

    private void generate(Exchange ex, int[] promptTokens, PromptReport report) throws InterruptedException {
        long start = System.nanoTime();
        ObjectNode body = Json.parseObject(ex.body());
        String model = Json.requiredString(body, "model");
        invalidNameIsNotFound(model);
        String prompt = promptTokens != null ? "" : Json.string(body, "prompt").orElse("");
        String system = Json.string(body, "system").orElse(null);
        boolean raw = promptTokens != null || Json.bool(body, "raw").orElse(false);
        boolean stream = Json.bool(body, "stream").orElse(true);
        Duration keepAlive = KeepAlive.parse(body.get("keep_alive"));
        ObjectNode requestOptions = Json.object(body, "options").orElse(null);
        boolean truncate = Json.bool(body, "truncate").orElse(true);
        boolean shift = Json.bool(body, "shift").orElse(true); // as Ollama: a full context shifts unless false
        int[] context = contextTokens(body.get("context"));
        int logprobs = logprobs(body);
        Boolean think = think(body); // its type is checked before an unload, as Ollama's decoding does
        // an empty prompt with keep_alive 0 unloads before anything else is looked at, as Ollama expires the
        // runner before its other checks (format, raw, images)
        if (prompt.isEmpty() && promptTokens == null
                && unloadWithoutLoading(ex, CompletionStream.Shape.GENERATE, model, keepAlive)) {
            return;
        }
        requireCompletion(model, "generate");
        rejectUnsupported(body, model);
        String grammar = FormatOption.grammar(body.get("format"));
        if (raw && (!Json.string(body, "template").orElse("").isEmpty() || (system != null && !system.isEmpty())
                || context.length > 0)) {
            // Ollama's words (routes.go): a raw prompt goes to the model as it is, so these have nowhere to go
            throw ApiException.badRequest("raw mode does not support template, system, or context");
        }

        // read once nothing is left to do without them (a keep_alive 0 with nothing to generate answers first)
        OllamaOptions options = options(requestOptions, model);
        LoadedModel.Lease lease = ModelLeases.forRequest(models, ex, model, keepAlive, options.load());
        LoadedModel m = lease.model();
        if (prompt.isEmpty() && (promptTokens == null || promptTokens.length == 0)) {
            // as Ollama: an empty prompt only loads, whatever the system prompt
            loadOnly(ex, CompletionStream.Shape.GENERATE, model);
            return;
        }
        LocalModel settings = lease.requested();
        options = ModelDefaults.options(settings, requestOptions);
        if (promptTokens != null) {
            requireInVocabulary(promptTokens, m.engineInfo().vocabSize());
            run(ex, m, null, promptTokens, options, grammar, GrammarStart.AT_ONCE, stream, new Fit(truncate, shift),
                    CompletionStream.Shape.GENERATE, start, model, null, false, logprobs, report);
            return;
        }
        String text;
        // the request's template, else the model's TEMPLATE layer from Ollama's store, else the GGUF's
        String template = Json.string(body, "template").filter(t -> !t.isBlank())
                .map(CompletionHandlers::requireParsable).or(settings::ollamaTemplate).orElse(null);
        String modelSystem = settings.system().orElse(null);
        think = thinking(m, model, think, template, grammar != null);
        AnswerParser parser = null;
        String suffix = Json.string(body, "suffix").orElse("");
        if (!suffix.isEmpty() && (template == null || !template.contains(".Suffix"))) {
            // fill-in-the-middle needs a template that places the suffix, as Ollama's insert capability
            throw ApiException.badRequest(settings.name() + " does not support insert");
        }
        if (raw) {
            text = prompt;
        } else if (!suffix.isEmpty()) {
            // as Ollama renders an insert: the template with the prompt and the suffix only
            try {
                text = GoTemplate.parse(template).render(Map.of("Prompt", prompt, "Suffix", suffix));
            } catch (TemplateException e) {
                throw ApiException.badRequest("template error: " + e.getMessage());
            }
        } else {
            // without any template this is Ollama's {{ .Prompt }}: the prompt alone, without the system
            List<ChatMessage> msgs = new ArrayList<>();
            if (system != null && !system.isEmpty()) {
                msgs.add(ChatMessage.of("system", system));
            }
            if (context.length == 0) {
                msgs.addAll(modelMessages(settings)); // the MESSAGE layer, as Ollama puts it before a fresh prompt
            }
            msgs.add(ChatMessage.of("user", prompt));
            PromptBuilder.Prompt built = prompts(m).build(new PromptBuilder.Request(m.chatTemplateSource().orElse(null),
                    template, modelSystem, msgs, List.of(), think, thinkLevel(body)));
            text = built.text();
            String used = template != null ? template : m.chatTemplateSource().orElse(null);
            if (HarmonyParser.isHarmony(used)) {
                parser = new HarmonyParser(); // gpt-oss: its channels, whatever think says
            } else if (dev.gantry.models.chat.CommandParser.isCommand(used)) {
                // Command R7B / Command A: their markers (rendered) go, whatever think says
                parser = new dev.gantry.models.chat.CommandParser(built.thinkingOpen() && grammar == null, Set.of());
            } else if (Boolean.TRUE.equals(think)) {
                // the reasoning goes to the answer's thinking field, as in Ollama; a format held from the first
                // token makes the answer, even where the prompt opened a reasoning block (Ollama files that JSON
                // as reasoning and leaves the answer empty)
                parser = new ChatOutputParser(true, built.thinkingOpen() && grammar == null, Set.of());
            }
        }
        if (context.length > 0) {
            // the deprecated context of an earlier answer: its text goes before this prompt, as in Ollama
            text = detokenize(m, context) + text;
        }
        run(ex, m, text, null, options, grammar, GrammarStart.AT_ONCE, stream, new Fit(truncate, shift),
                CompletionStream.Shape.GENERATE, start, model, parser, !raw, logprobs, report);
    }

    public void chat(Exchange ex) throws InterruptedException {
        long start = System.nanoTime();
        ObjectNode body = Json.parseObject(ex.body());
        String model = Json.requiredString(body, "model");
        boolean stream = Json.bool(body, "stream").orElse(true);
        Duration keepAlive = KeepAlive.parse(body.get("keep_alive"));
        ObjectNode requestOptions = Json.object(body, "options").orElse(null);
        boolean truncate = Json.bool(body, "truncate").orElse(true);
        boolean shift = Json.bool(body, "shift").orElse(true); // as Ollama: a full context shifts unless false
        List<ChatMessage> messages = messages(body.get("messages"));
        int logprobs = logprobs(body);
        List<Object> declaredTools = tools(body.get("tools"));
        String toolChoice = ToolChoice.of(body); // OpenAI's, passed on by /v1/chat/completions
        List<Object> tools = toolChoice.equals("none") ? List.of() : ToolChoice.chosen(body, declaredTools);
        if (toolChoice.equals("required") && tools.isEmpty()) {
            throw ApiException.badRequest("tool_choice \"required\" needs tools");
        }
        Boolean think = think(body);
        if (messages.isEmpty() && unloadWithoutLoading(ex, CompletionStream.Shape.CHAT, model, keepAlive)) {
            return; // before the format's and images' checks, as Ollama expires the runner first
        }
        requireCompletion(model, "chat");
        rejectUnsupported(body, model);
        if (messagesHaveImages(body.get("messages"))) {
            throw ApiException.badRequest("this model does not support images");
        }
        String grammar = FormatOption.grammar(body.get("format"));
        // read once nothing is left to do without them (a keep_alive 0 with nothing to generate answers first)
        OllamaOptions options = options(requestOptions, model);
        LoadedModel.Lease lease = ModelLeases.forRequest(models, ex, model, keepAlive, options.load());
        LoadedModel m = lease.model();
        LocalModel settings = lease.requested();
        // the request's template, else the model's TEMPLATE layer from Ollama's store, else the GGUF's
        String template = Json.string(body, "template").filter(t -> !t.isBlank())
                .map(CompletionHandlers::requireParsable).or(settings::ollamaTemplate).orElse(null);
        String modelSystem = settings.system().orElse(null);
        String gguf = m.chatTemplateSource().orElse(null);
        // a chat's format holds the answer after a <think> block: no reason to turn reasoning off for it; with
        // other reasoning tags (<|START_THINKING|>) the format holds from the first token, and an absent think stays
        // off with it
        String used = template != null ? template : gguf;
        boolean thinkTagged = used != null && used.contains(ChatOutputParser.OPEN);
        boolean forceCall = toolChoice.equals("required");
        if (forceCall) { // one call of one of the tools, held by a grammar as a format is (after reasoning)
            if (grammar != null) {
                throw ApiException.badRequest("format (OpenAI's response_format) cannot be combined with a "
                        + "required tool call (tool_choice \"required\" or a named function)");
            }
            grammar = ToolChoice.grammar(tools, used);
        }
        Boolean thinkOn = thinking(m, model, think, template, grammar != null && !thinkTagged);
        if (!tools.isEmpty() && !supportsTools(gguf, template)) {
            // Ollama names the model in full, tag included: registry.ollama.ai/library/qwen:latest
            throw ApiException.badRequest(settings.name() + " does not support tools");
        }
        if (messages.isEmpty()) {
            loadOnly(ex, CompletionStream.Shape.CHAT, model);
            return;
        }
        options = ModelDefaults.options(settings, requestOptions);
        OllamaOptions chatOptions = options;
        if (!settings.messages().isEmpty()) {
            List<ChatMessage> all = new ArrayList<>(modelMessages(settings)); // the MESSAGE layer first, as in Ollama
            all.addAll(messages);
            messages = all;
        }
        if (EarlierReasoning.applies(settings.metadata().modelFamily(), settings.name().model())) {
            messages = EarlierReasoning.strip(messages);
        }
        PromptBuilder builder = prompts(m);
        String effort = thinkLevel(body);
        List<ChatMessage> fitting = ContextWindow.dropOldest(messages, ChatMessage::role,
                msgs -> m.tokenize(builder.build(new PromptBuilder.Request(gguf, template, modelSystem, msgs, tools,
                        thinkOn, effort))
                        .text(), true, true).length,
                ContextWindow.of(m.contextLength(), chatOptions.numCtx()), chatOptions.numPredict(), shift, truncate);
        PromptBuilder.Prompt prompt = builder.build(new PromptBuilder.Request(gguf, template, modelSystem, fitting,
                tools, thinkOn, effort));
        if (prompt.thinkingOpen() && grammar != null && dev.gantry.models.chat.CommandParser.isCommand(used)) {
            // Command's reasoning block, which the prompt opened, closes before a call or a format's document, as the
            // model would close it (Command's formats are held from the first token: no reasoning before them)
            grammar = forceCall ? ToolChoice.grammar(tools, used, true)
                    : dev.gantry.runtime.grammar.JsonGrammar.prefixed(grammar, "<|END_THINKING|>");
        }
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
        // a template with a tag before its tool calls: only the tag holds the answer back, a JSON answer streams
        boolean bareJsonCalls = !ToolCallParser.tagsToolCalls(template != null ? template : gguf)
                || (forceCall && ToolChoice.bareJson(used));
        // with reasoning on, the format holds the answer after it, as Ollama's chat applies it once reasoning ends
        // gpt-oss: reasoning and commentary free, the final channel's message held, as Ollama's second pass holds it
        // (at once where the prompt ends inside a final message the model goes on with)
        boolean harmony = HarmonyParser.isHarmony(used);
        String openChannel = harmony ? HarmonyParser.openChannel(prompt.text()) : null;
        // a required call of gpt-oss is its message from the start (no reasoning before it)
        GrammarStart grammarStart = harmony
                ? ("final".equals(openChannel) || forceCall ? GrammarStart.AT_ONCE : GrammarStart.AFTER_HARMONY_FINAL)
                : !Boolean.TRUE.equals(thinkOn) || !thinkTagged ? GrammarStart.AT_ONCE
                : prompt.thinkingOpen() ? GrammarStart.AFTER_OPENED_THINKING : GrammarStart.AFTER_THINKING;
        // a format held from the first token makes the answer, even where the prompt opened a reasoning block
        boolean heldAtOnce = grammar != null && grammarStart == GrammarStart.AT_ONCE;
        // Command R7B / Command A: their reasoning, tool calls and answer come between their own markers
        AnswerParser parser = harmony ? new HarmonyParser(toolNames, openChannel)
                : dev.gantry.models.chat.CommandParser.isCommand(used)
                ? new dev.gantry.models.chat.CommandParser(prompt.thinkingOpen() && !heldAtOnce, toolNames)
                : new ChatOutputParser(Boolean.TRUE.equals(thinkOn),
                        Boolean.TRUE.equals(thinkOn) && prompt.thinkingOpen() && !heldAtOnce, toolNames, bareJsonCalls);
        run(ex, m, prompt.text(), null, options, grammar, grammarStart, stream, new Fit(truncate, shift),
                CompletionStream.Shape.CHAT, start, model, parser, false, logprobs, PromptReport.NONE);
    }

    /**
     * {@code logprobs} (a boolean) and {@code top_logprobs} (0 to 20 alternatives): how many alternatives each
     * token's log probability comes with, or -1 for none.
     */
    private static int logprobs(ObjectNode body) {
        boolean on = Json.bool(body, "logprobs").orElse(false);
        JsonNode top = body.get("top_logprobs");
        int n = 0;
        if (top != null && !top.isNull()) {
            if (!top.isIntegralNumber() || !top.canConvertToInt()) {
                throw Json.wrongType("top_logprobs", "an integer", top);
            }
            n = top.intValue();
            if (n < 0 || n > dev.gantry.runtime.sampling.TokenLogprobs.MAX_TOP) {
                throw ApiException.badRequest("top_logprobs must be between 0 and "
                        + dev.gantry.runtime.sampling.TokenLogprobs.MAX_TOP);
            }
        }
        return on ? n : -1;
    }

    /** {@code context}: a list of token ids (an earlier answer's), or none. */
    private static int[] contextTokens(JsonNode node) {
        if (node == null || node.isNull()) {
            return new int[0];
        }
        if (!node.isArray()) {
            throw Json.wrongType("context", "a list of token ids", node);
        }
        int[] out = new int[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode t = node.get(i);
            if (!t.isIntegralNumber() || !t.canConvertToInt()) {
                throw Json.wrongType("context[" + i + "]", "a token id", t);
            }
            out[i] = t.intValue();
        }
        return out;
    }

    /** The text of {@code tokens}; a 400 for an id the model's vocabulary does not have. */
    private static String detokenize(LoadedModel m, int[] tokens) {
        int vocab = m.engineInfo().vocabSize();
        for (int t : tokens) {
            if (t < 0 || t >= vocab) {
                throw ApiException.badRequest("context holds token " + t + ", which is not in the model's vocabulary"
                        + " of " + vocab);
            }
        }
        // llama.cpp's own detokenizer: it leaves out the space the tokenizer put before the first word, so the
        // text tokenizes back to the same tokens (joined pieces gained a space token at every round trip)
        return m.detokenize(tokens);
    }

    /** A template a client sent (Go syntax), or a 400 saying why it does not parse, as Ollama refuses one. */
    static String requireParsable(String template) {
        try {
            dev.gantry.models.template.GoTemplate.parse(template);
            return template;
        } catch (dev.gantry.models.template.TemplateException e) {
            if (e.isUnsupported()) {
                return template; // valid Go, beyond this renderer: the prompt falls back to the model's template
            }
            throw ApiException.badRequest("template error: " + e.getMessage());
        }
    }

    private static List<ChatMessage> modelMessages(LocalModel m) {
        return m.messages().stream().map(x -> ChatMessage.of(x.role(), x.content())).toList();
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

    /** The level of a {@code think} given as one ({@code high}, {@code medium}, {@code low}), else null. */
    private static String thinkLevel(ObjectNode body) {
        JsonNode t = body.get("think");
        return t != null && t.isTextual() && Set.of("high", "medium", "low").contains(t.textValue()) ? t.textValue()
                : null;
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

    /**
     * The request's {@code think} as Ollama takes it (routes.go): a model that can think does unless told not to
     * (an absent {@code think} is true); asking one that cannot is a 400. With a {@code format} held from the first
     * token ({@code formatFromStart}: generate's, as Ollama's generate applies it) an absent {@code think} stays off:
     * reasoning first would leave the answer inside the reasoning block.
     */
    private static Boolean thinking(LoadedModel m, String model, Boolean think, String template,
                                    boolean formatFromStart) {
        boolean can = PromptBuilder.supportsThinking(m.chatTemplateSource().orElse(null), template);
        if (Boolean.TRUE.equals(think) && !can) {
            throw ApiException.badRequest("\"" + model + "\" does not support thinking");
        }
        return think == null && can && !formatFromStart ? Boolean.TRUE : think;
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

    /**
     * A request's {@code truncate} (cut a prompt longer than the context) and {@code shift} (shift a context that
     * fills while generating, keeping {@code num_keep} tokens; else the answer ends there), both true unless false.
     */
    private record Fit(boolean truncate, boolean shift) {}

    /** A prompt's token ids a client sent must each name one of the model's tokens (llama.cpp refuses others). */
    private static void requireInVocabulary(int[] tokens, int vocab) {
        int at = TokenIds.outside(tokens, vocab);
        if (at >= 0) {
            throw ApiException.badRequest("the prompt's token id " + tokens[at] + " (at " + at + ") is not in the "
                    + "model's vocabulary of " + vocab + " tokens");
        }
    }

    /**
     * Submits a generation of {@code text}, tokenized with the special tokens, or of {@code given} tokens where
     * those are not null (then {@code text} is not read and no context is kept).
     */
    private void run(Exchange ex, LoadedModel m, String text, int[] given, OllamaOptions options, String grammar,
                     GrammarStart grammarStart, boolean stream,
                     Fit fit, CompletionStream.Shape shape, long start, String requestedName,
                     AnswerParser parser, boolean withContext, int logprobs, PromptReport report) {
        int window = ContextWindow.of(m.contextLength(), options.numCtx());
        // an echoed prompt is taken whole or refused: a cut one would answer (and score) other text than was sent;
        // one that generates nothing may fill the context
        int[] tokens = given != null ? given : dropDoubleBos(m.tokenize(text, true, true));
        if (!report.only() || tokens.length > window) {
            tokens = ContextWindow.fit(tokens, window, options.numPredict(), options.numKeep(), fit.shift(),
                    fit.truncate() && !report.echo());
        }
        long loadNanos = System.nanoTime() - start;
        CompletionStream sink = new CompletionStream(ex, shape, requestedName, stream, start, loadNanos, parser);
        if (report.logprobs() || (report.echo() && given != null)) {
            sink.reportPrompt(tokens, report.logprobs(), report.echo() && given != null, m::piece);
        }
        if (withContext) {
            // Ollama's context: the prompt and the answer as tokens, which an old client sends back next time
            sink.withContext(answer -> m.tokenize(text + answer, false, true));
        }
        GenerationRecorder recorder = metrics.begin(m.name(), start);
        TokenRelay relay = new TokenRelay(ex.eventLoop(), m::piece, options.stop(),
                recorder.wrap(sink, System.nanoTime()));
        Submission submission;
        try {
            GenerationRequest request = new GenerationRequest(tokens,
                    options.sampling().withGrammar(grammar, grammarStart),
                    maxTokens(options.numPredict(), window, fit.shift()), window).withLogprobs(logprobs);
            if (report.logprobs()) {
                request = request.withPromptLogprobs();
            }
            if (report.only()) {
                request = request.promptOnlyRequest();
            }
            submission = m.submit(fit.shift() ? request.withShift(options.numKeep()) : request, relay);
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
     * The tokens to generate at most: {@code num_predict}, except that a shifting generation without one (or with
     * more) stops at ten contexts, as Ollama caps it; without a shift the full context ends it.
     */
    static int maxTokens(int numPredict, int window, boolean shift) {
        int cap = (int) Math.min(Integer.MAX_VALUE, 10L * window);
        return shift && (numPredict <= 0 || numPredict > cap) ? cap : numPredict;
    }

    /** A template that wrote its own BOS after the tokenizer added one: keep one, as llama.cpp does. */
    private static int[] dropDoubleBos(int[] tokens) {
        if (tokens.length >= 2 && tokens[0] == tokens[1]) {
            return java.util.Arrays.copyOfRange(tokens, 1, tokens.length);
        }
        return tokens;
    }

    /**
     * Ollama answers a model name that does not parse with 404 on {@code /api/generate} (its own comment: ideally
     * "invalid model name", kept for what the API has always returned); {@code /api/chat} and the rest say 400.
     */
    /**
     * The request's options; when they are wrong, an unknown model is answered first (404), as Ollama looks the model
     * up before it reads them. The lookup is made only then: a request's path resolves its model once.
     */
    private OllamaOptions options(ObjectNode requestOptions, String model) {
        try {
            return OllamaOptions.parse(requestOptions);
        } catch (ApiException e) {
            models.requireKnown(model);
            throw e;
        }
    }

    private static void invalidNameIsNotFound(String model) {
        try {
            ModelName.parse(model);
        } catch (IllegalArgumentException e) {
            throw new ApiException(404, "model \"" + model + "\" not found: " + e.getMessage());
        }
    }

    /**
     * Nothing to generate: the model is loaded (the lease's) and kept for the request's keep_alive (a keep_alive of
     * 0 never gets here: {@link #unloadWithoutLoading}). The answer echoes the name as requested.
     */
    private void loadOnly(Exchange ex, CompletionStream.Shape shape, String requestedName) {
        ex.sendJson(200, Json.write(CompletionStream.loadOnly(shape, requestedName, "load")));
    }

    /**
     * The model a request names, loaded or in the store, without loading it; empty for one unknown or a name that
     * does not parse (each answered where the model is looked up).
     */
    private java.util.Optional<dev.gantry.models.LocalModel> lookUp(String model) {
        return Capabilities.lookUp(models, model);
    }

    /**
     * An embedding model (its GGUF names a pooling type) cannot generate or chat: a 400 in Ollama's words, before it
     * loads, as Ollama checks a model's capabilities before it schedules a runner. An unknown model passes (404 later).
     */
    private void requireCompletion(String model, String route) {
        java.util.Optional<dev.gantry.models.LocalModel> found = lookUp(model);
        if (found.isPresent() && !Capabilities.completes(found.get().metadata())) {
            throw ApiException.badRequest("\"" + model + "\" does not support " + route);
        }
    }

    /**
     * {@code keep_alive: 0} with nothing to generate: answers {@code unload} without loading the model or reading the
     * request's options, as Ollama expires a runner before it schedules one. A loaded model unloads once its requests
     * are done; one still loading, once loaded and done with the requests that came before this one; one not in
     * memory stays out. False when the request is not such an unload.
     */
    private boolean unloadWithoutLoading(Exchange ex, CompletionStream.Shape shape, String name, Duration keepAlive) {
        if (keepAlive == null || !keepAlive.isZero()) {
            return false;
        }
        if (models.loadedModel(name).isEmpty() && models.registry().resolve(name).isEmpty()) {
            throw new dev.gantry.runtime.ModelNotFoundException(name);
        }
        models.unload(name);
        ex.sendJson(200, Json.write(CompletionStream.loadOnly(shape, name, "unload")));
        return true;
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
            // any role goes to the template, as in Ollama (older OpenAI clients send "function"), a missing one as ""
            String role = Json.string(o, "role").orElse("");
            String content = Json.string(o, "content").orElse("");
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

    /** Whether a message carries images (checked once the model is known to exist and to chat, as in Ollama). */
    private static boolean messagesHaveImages(JsonNode messages) {
        if (messages == null || !messages.isArray()) {
            return false;
        }
        for (JsonNode m : messages) {
            JsonNode images = m.get("images");
            if (images != null && !images.isNull() && !(images.isArray() && images.isEmpty())) {
                return true;
            }
        }
        return false;
    }

    private void rejectUnsupported(ObjectNode body, String model) {
        JsonNode images = body.get("images");
        boolean withImages = images != null && !images.isNull() && !(images.isArray() && images.isEmpty());
        boolean inMessages = messagesHaveImages(body.get("messages"));
        if ((withImages || inMessages) && lookUp(model).isEmpty()) {
            dev.gantry.models.ModelName.parse(model); // a name that does not parse: its 400 first
            throw new dev.gantry.runtime.ModelNotFoundException(model); // an unknown model: its 404 first
        }
        if (withImages) {
            throw ApiException.badRequest("registry.ollama.ai/library/" + model + " does not support images");
        }
        JsonNode template = body.get("template");
        if (template != null && !template.isNull() && !template.isTextual()) {
            throw Json.wrongType("template", "a string", template);
        }
    }
}
