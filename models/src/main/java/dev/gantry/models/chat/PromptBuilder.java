package dev.gantry.models.chat;

import dev.gantry.models.template.GoTemplate;
import dev.gantry.models.template.JinjaTemplate;
import dev.gantry.models.template.JsonValues;
import dev.gantry.models.template.TemplateException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Turns a conversation into the prompt text a model was trained on. In order of preference:
 * <ol>
 *   <li>the Ollama TEMPLATE (Go syntax), from the model store or a request's {@code template}, when given and
 *       within what {@link GoTemplate} handles;</li>
 *   <li>the GGUF's {@code tokenizer.chat_template} rendered with {@link JinjaTemplate}, retried with the
 *       adjustments older templates need (tool-call arguments as JSON text; the system prompt folded into the
 *       first user turn; tool traffic as plain turns) before giving up on it;</li>
 *   <li>llama.cpp's built-in renderer for that template;</li>
 *   <li>ChatML.</li>
 * </ol>
 * Each step down is logged with its reason. A leading BOS token text is removed, since tokenizing adds it.
 *
 * <p>Thread-safe; parsed Jinja templates are cached by their text.
 */
public final class PromptBuilder {
    private static final System.Logger LOG = System.getLogger("gantry.template");
    private static final int CACHE = 32;
    private static final Map<String, Object> PARSED = new java.util.LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Object> eldest) {
            return size() > CACHE;
        }
    };

    /** llama.cpp's built-in renderer: role and content only; throws when it does not know the template. */
    @FunctionalInterface
    public interface BuiltinRenderer {
        String render(String template, List<ChatMessage> messages, boolean addAssistant);
    }

    /** The model's special-token texts that templates reference. */
    public record Tokens(String bos, String eos) {
        public static final Tokens NONE = new Tokens("", "");
    }

    /**
     * What to render: the GGUF template (may be null), an Ollama Go template (may be null), the model's default
     * system prompt (used when the messages have none; may be null), the messages, the tools (JSON-shaped maps;
     * may be empty), the request's {@code think} (null when not given) and its reasoning effort ({@code low},
     * {@code medium}, {@code high}: a {@code think} given as a level; null otherwise), which a Jinja template reads as
     * {@code reasoning_effort} (gpt-oss's).
     */
    public record Request(String ggufTemplate, String ollamaTemplate, String modelSystem, List<ChatMessage> messages,
                          List<Object> tools, Boolean think, String reasoningEffort) {
        public Request {
            tools = tools == null ? List.of() : tools;
        }

        /** Without a reasoning effort. */
        public Request(String ggufTemplate, String ollamaTemplate, String modelSystem, List<ChatMessage> messages,
                       List<Object> tools, Boolean think) {
            this(ggufTemplate, ollamaTemplate, modelSystem, messages, tools, think, null);
        }
    }

    /** How a prompt was made, for logs and tests. */
    public enum Source {
        OLLAMA_TEMPLATE, JINJA, LLAMA_CPP, CHATML,
        /** No template anywhere: Ollama's default, {@code {{ .Prompt }}} (the users' turns, nothing else). */
        PROMPT_ONLY
    }

    /** Ollama's template for a model that has none. */
    public static final String DEFAULT_TEMPLATE = "{{ .Prompt }}";

    /**
     * The prompt text, how it was made, and whether it ends inside an opened thinking block (the template wrote
     * {@code <think>} itself), so the output parser starts in reasoning.
     */
    public record Prompt(String text, Source source, boolean thinkingOpen) {}

    private final Tokens tokens;
    private final BuiltinRenderer builtin;

    public PromptBuilder(Tokens tokens, BuiltinRenderer builtin) {
        this.tokens = tokens == null ? Tokens.NONE : tokens;
        this.builtin = builtin;
    }

    /**
     * Whether a model with these templates can separate reasoning ({@code think}): a Go template that writes a
     * message's {@code .Thinking}, as Ollama infers the capability from its template (a template that only reads
     * {@code .Think} or {@code .IsThinkSet} cannot give reasoning back to the model); a GGUF Jinja template that
     * opens a reasoning block or takes {@code enable_thinking} or {@code reasoning_content}.
     */
    public static boolean supportsThinking(String ggufTemplate, String ollamaTemplate) {
        if (ollamaTemplate != null && !ollamaTemplate.isBlank()) {
            return ollamaTemplate.contains(".Thinking");
        }
        if (ggufTemplate == null) {
            return false;
        }
        return ggufTemplate.contains(ChatOutputParser.OPEN) || ggufTemplate.contains("enable_thinking")
                || HarmonyParser.isHarmony(ggufTemplate)
                || ggufTemplate.contains("reasoning_content") || ggufTemplate.contains("<|START_THINKING|>");
    }

    public Prompt build(Request r) {
        List<ChatMessage> messages = collate(withSystem(r.messages(), r.modelSystem()));
        if (r.ollamaTemplate() != null && !r.ollamaTemplate().isBlank()) {
            try {
                return prompt(renderGo(GoTemplate.parse(r.ollamaTemplate()), messages, r.tools(), r.think(),
                                r.reasoningEffort()),
                        Source.OLLAMA_TEMPLATE);
            } catch (TemplateException | ClassCastException | IndexOutOfBoundsException e) {
                LOG.log(System.Logger.Level.WARNING, "the Ollama template cannot be rendered ({0}); using the "
                        + "model''s GGUF chat template", e.getMessage());
            }
        }
        String gguf = r.ggufTemplate();
        if (gguf == null || gguf.isBlank()) {
            // as Ollama: a model without a template gets {{ .Prompt }}, which renders the users' turns only
            return prompt(renderGo(GoTemplate.parse(DEFAULT_TEMPLATE), messages, r.tools(), r.think(), null),
                    Source.PROMPT_ONLY);
        }
        try {
            return prompt(renderJinja(jinja(gguf), messages, r.tools(), r.think(), r.reasoningEffort()), Source.JINJA);
        } catch (TemplateException e) {
            LOG.log(System.Logger.Level.WARNING, "the model''s chat template failed to render ({0}); trying "
                    + "llama.cpp''s built-in renderer", e.getMessage());
        }
        if (builtin != null) {
            try {
                return prompt(builtin.render(gguf, messages, true), Source.LLAMA_CPP);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "llama.cpp has no built-in renderer for this template ({0}); "
                        + "using ChatML", e.getMessage());
            }
        }
        return prompt(chatml(messages), Source.CHATML);
    }

    private Prompt prompt(String text, Source source) {
        if (!tokens.bos().isEmpty() && text.startsWith(tokens.bos())) {
            text = text.substring(tokens.bos().length());
        }
        String tail = text.stripTrailing();
        boolean open = tail.endsWith(ChatOutputParser.OPEN) || tail.endsWith("<|START_THINKING|>");
        return new Prompt(text, source, open);
    }

    /**
     * Neighbouring messages of one role (tool results excepted) as one, their contents joined by a blank line, as
     * Ollama merges them before any template sees them: two user turns in a row are one turn. The merged message
     * keeps the tool calls of both.
     */
    static List<ChatMessage> collate(List<ChatMessage> messages) {
        List<ChatMessage> out = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            ChatMessage prev = out.isEmpty() ? null : out.getLast();
            if (prev != null && prev.role().equals(m.role()) && !m.role().equals("tool")) {
                List<ToolCall> calls = new ArrayList<>(prev.toolCalls());
                calls.addAll(m.toolCalls());
                out.set(out.size() - 1, new ChatMessage(m.role(), prev.content() + "\n\n" + m.content(),
                        prev.thinking(), calls, prev.toolName()));
            } else {
                out.add(m);
            }
        }
        return out;
    }

    private static List<ChatMessage> withSystem(List<ChatMessage> messages, String modelSystem) {
        if (modelSystem == null || modelSystem.isEmpty() || messages.stream().anyMatch(m -> m.role().equals("system"))) {
            return messages;
        }
        List<ChatMessage> out = new ArrayList<>();
        out.add(ChatMessage.of("system", modelSystem));
        out.addAll(messages);
        return out;
    }

    private static JinjaTemplate jinja(String source) {
        synchronized (PARSED) {
            Object cached = PARSED.get(source);
            if (cached instanceof JinjaTemplate t) {
                return t;
            }
            if (cached instanceof TemplateException e) {
                throw e;
            }
        }
        Object parsed;
        try {
            parsed = JinjaTemplate.parse(source);
        } catch (TemplateException e) {
            parsed = e;
        }
        synchronized (PARSED) {
            PARSED.put(source, parsed);
        }
        if (parsed instanceof TemplateException e) {
            throw e;
        }
        return (JinjaTemplate) parsed;
    }

    // ------------------------------------------------------------------------------------------------ Jinja

    /** The adjustments tried, in order, when a template rejects the conversation as it is. */
    private enum Variant {
        AS_IS, ARGUMENTS_AS_TEXT, SYSTEM_IN_USER, PLAIN_TURNS
    }

    private String renderJinja(JinjaTemplate t, List<ChatMessage> messages, List<Object> tools, Boolean think,
                               String effort) {
        TemplateException first = null;
        for (Variant v : Variant.values()) {
            if (v == Variant.ARGUMENTS_AS_TEXT && messages.stream().allMatch(m -> m.toolCalls().isEmpty())) {
                continue;
            }
            if (v == Variant.SYSTEM_IN_USER && messages.stream().noneMatch(m -> m.role().equals("system"))) {
                continue;
            }
            try {
                String out = t.render(context(messages, tools, think, effort, v));
                if (v != Variant.PLAIN_TURNS && dropsToolTraffic(out, messages)) {
                    // The template ignores tool calls or results (it predates tools): write them as plain turns.
                    try {
                        return t.render(context(messages, tools, think, effort, Variant.PLAIN_TURNS));
                    } catch (TemplateException e) {
                        return out;
                    }
                }
                if (v != Variant.AS_IS) {
                    LOG.log(System.Logger.Level.DEBUG, "chat template rendered with adjustment {0} after: {1}", v,
                            first.getMessage());
                }
                return out;
            } catch (TemplateException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        throw first;
    }

    private static boolean dropsToolTraffic(String rendered, List<ChatMessage> messages) {
        // Compared without quotes and escapes, so a template that writes the result as JSON still counts.
        String out = bare(rendered);
        for (ChatMessage m : messages) {
            if (m.role().equals("tool") && !m.content().isBlank() && !out.contains(bare(m.content().strip()))) {
                return true;
            }
            for (ToolCall c : m.toolCalls()) {
                if (!out.contains(c.name())) {
                    return true;
                }
            }
        }
        return false;
    }

    private static String bare(String s) {
        return s.replace("\\", "").replace("\"", "").replace("'", "");
    }

    private Map<String, Object> context(List<ChatMessage> messages, List<Object> tools, Boolean think, String effort,
                                        Variant v) {
        List<ChatMessage> msgs = messages;
        if (v.ordinal() >= Variant.SYSTEM_IN_USER.ordinal()) {
            msgs = foldSystem(msgs);
        }
        if (v == Variant.PLAIN_TURNS) {
            msgs = plainTurns(msgs);
        }
        boolean argumentsAsText = v != Variant.AS_IS;
        List<Object> list = new ArrayList<>();
        for (ChatMessage m : msgs) {
            list.add(toMap(m, argumentsAsText));
        }
        Map<String, Object> ctx = new LinkedHashMap<>();
        ctx.put("messages", list);
        if (!tools.isEmpty()) {
            ctx.put("tools", deepCopy(tools));
        }
        boolean lastIsAssistant = !msgs.isEmpty() && msgs.getLast().role().equals("assistant");
        ctx.put("add_generation_prompt", !lastIsAssistant);
        ctx.put("bos_token", tokens.bos());
        ctx.put("eos_token", tokens.eos());
        if (think != null) {
            ctx.put("enable_thinking", think);
            ctx.put("thinking", think);
            ctx.put("reasoning_enabled", think);
            ctx.put("reasoning", think); // Command A's
        }
        if (effort != null) {
            ctx.put("reasoning_effort", effort);
        }
        return ctx;
    }

    private static Map<String, Object> toMap(ChatMessage m, boolean argumentsAsText) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("role", m.role());
        out.put("content", m.content());
        if (m.thinking() != null && !m.thinking().isEmpty()) {
            out.put("reasoning_content", m.thinking());
            out.put("thinking", m.thinking());
        }
        if (!m.toolCalls().isEmpty()) {
            List<Object> calls = new ArrayList<>();
            int i = 0;
            for (ToolCall c : m.toolCalls()) {
                Map<String, Object> fn = new LinkedHashMap<>();
                fn.put("name", c.name());
                fn.put("arguments", argumentsAsText ? JsonValues.write(c.arguments(), 0) : deepCopy(c.arguments()));
                Map<String, Object> call = new LinkedHashMap<>();
                call.put("id", String.format("call%05d", i++));
                call.put("type", "function");
                call.put("function", fn);
                calls.add(call);
            }
            out.put("tool_calls", calls);
        }
        if (m.toolName() != null) {
            out.put("tool_name", m.toolName());
            out.put("name", m.toolName());
        }
        if (m.role().equals("tool")) {
            out.put("tool_call_id", "call00000");
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static <T> T deepCopy(T value) {
        return (T) JsonValues.parse(JsonValues.write(value, 0));
    }

    /** The system prompt prepended to the first user turn, for templates that reject a system role. */
    private static List<ChatMessage> foldSystem(List<ChatMessage> messages) {
        StringBuilder system = new StringBuilder();
        List<ChatMessage> rest = new ArrayList<>();
        for (ChatMessage m : messages) {
            if (m.role().equals("system")) {
                system.append(system.isEmpty() ? "" : "\n\n").append(m.content());
            } else {
                rest.add(m);
            }
        }
        if (system.isEmpty()) {
            return messages;
        }
        for (int i = 0; i < rest.size(); i++) {
            ChatMessage m = rest.get(i);
            if (m.role().equals("user")) {
                rest.set(i, new ChatMessage("user", system + "\n\n" + m.content(), null, List.of(), null));
                return rest;
            }
        }
        rest.addFirst(ChatMessage.of("user", system.toString()));
        return rest;
    }

    /** Tool calls written into the assistant's text and tool results as user turns, for templates without tools. */
    private static List<ChatMessage> plainTurns(List<ChatMessage> messages) {
        List<ChatMessage> out = new ArrayList<>();
        for (ChatMessage m : messages) {
            if (m.role().equals("tool")) {
                out.add(ChatMessage.of("user", "Tool result" + (m.toolName() == null ? "" : " (" + m.toolName() + ")")
                        + ": " + m.content()));
            } else if (!m.toolCalls().isEmpty()) {
                StringBuilder b = new StringBuilder(m.content());
                for (ToolCall c : m.toolCalls()) {
                    Map<String, Object> call = new LinkedHashMap<>();
                    call.put("name", c.name());
                    call.put("arguments", c.arguments());
                    b.append(b.isEmpty() ? "" : "\n").append(JsonValues.write(call, 0));
                }
                out.add(ChatMessage.of(m.role(), b.toString()));
            } else {
                out.add(m);
            }
        }
        // Merge consecutive turns of the same role, which strict templates reject.
        List<ChatMessage> merged = new ArrayList<>();
        for (ChatMessage m : out) {
            if (!merged.isEmpty() && merged.getLast().role().equals(m.role())) {
                ChatMessage prev = merged.removeLast();
                merged.add(ChatMessage.of(m.role(), prev.content() + "\n\n" + m.content()));
            } else {
                merged.add(m);
            }
        }
        return merged;
    }

    /** ChatML, which llama.cpp also uses for a model without a template. */
    static String chatml(List<ChatMessage> messages) {
        StringBuilder b = new StringBuilder();
        for (ChatMessage m : messages) {
            b.append("<|im_start|>").append(m.role()).append('\n').append(m.content()).append("<|im_end|>\n");
        }
        return b.append("<|im_start|>assistant\n").toString();
    }

    // ------------------------------------------------------------------------------------------------ Go

    private static String renderGo(GoTemplate t, List<ChatMessage> messages, List<Object> tools, Boolean think,
                                   String effort) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("Tools", tools.isEmpty() ? null : deepCopy(tools));
        data.put("Think", think != null && think);
        data.put("IsThinkSet", think != null);
        // as Ollama: a level as given, true as "medium", otherwise none (gpt-oss's template writes "Reasoning: ...")
        data.put("ThinkLevel", effort != null ? effort : Boolean.TRUE.equals(think) ? "medium" : "");
        if (t.usesMessages()) {
            List<Object> list = new ArrayList<>();
            String system = null;
            for (ChatMessage m : messages) {
                list.add(goMessage(m));
                if (m.role().equals("system")) {
                    system = system == null ? m.content() : system + "\n\n" + m.content();
                }
            }
            data.put("Messages", list);
            data.put("System", system == null ? "" : system);
            data.put("Prompt", "");
            data.put("Response", "");
            return t.render(data);
        }
        // A template of one turn (.System, .Prompt, .Response), as Ollama renders it: each exchange in full once the
        // next one starts, the last up to and with its .Response (an answer begun by the caller is continued). A
        // template without .Response gets one at its end, so earlier answers stay in the prompt.
        t = t.withResponse();
        StringBuilder out = new StringBuilder();
        String system = "";
        String prompt = "";
        String response = "";
        for (ChatMessage m : messages) {
            switch (m.role()) {
                case "system" -> {
                    if (!prompt.isEmpty() || !response.isEmpty()) {
                        out.append(turn(t, data, system, prompt, response, false));
                        prompt = "";
                        response = "";
                    }
                    system = m.content();
                }
                case "assistant" -> response = m.content();
                default -> {
                    if (!response.isEmpty()) {
                        out.append(turn(t, data, system, prompt, response, false));
                        system = "";
                        response = "";
                    }
                    prompt = m.content();
                }
            }
        }
        out.append(turn(t, data, system, prompt, response, true));
        return out.toString();
    }

    private static String turn(GoTemplate t, Map<String, Object> data, String system, String prompt, String response,
                               boolean last) {
        String marker = "\u0000gantry-response\u0000";
        data.put("System", system);
        data.put("Prompt", prompt);
        data.put("Response", last ? marker : response);
        data.put("Messages", List.of());
        String text = t.render(data);
        if (last) {
            int at = text.indexOf(marker);
            text = at >= 0 ? text.substring(0, at) + response : text;
        }
        return text;
    }

    private static Map<String, Object> goMessage(ChatMessage m) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("Role", m.role());
        out.put("Content", m.content());
        out.put("Thinking", m.thinking() == null ? "" : m.thinking());
        out.put("ToolName", m.toolName() == null ? "" : m.toolName());
        List<Object> calls = new ArrayList<>();
        for (ToolCall c : m.toolCalls()) {
            Map<String, Object> fn = new LinkedHashMap<>();
            fn.put("Name", c.name());
            fn.put("Arguments", deepCopy(c.arguments()));
            calls.add(Map.of("Function", fn));
        }
        out.put("ToolCalls", calls);
        return out;
    }

    /** For log lines: the source's name as a user would say it. */
    public static String describe(Source s) {
        return s.name().toLowerCase(Locale.ROOT).replace('_', ' ');
    }
}
