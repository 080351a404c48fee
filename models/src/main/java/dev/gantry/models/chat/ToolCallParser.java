package dev.gantry.models.chat;

import dev.gantry.models.template.JsonValues;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds the tool calls in a model's finished answer, in the formats common models write:
 * <ul>
 *   <li>Hermes/Qwen: {@code <tool_call>{"name": ..., "arguments": {...}}</tool_call>}, one or more, possibly after
 *       some text;</li>
 *   <li>Mistral: {@code [TOOL_CALLS][{"name": ..., "arguments": {...}}]} or {@code [TOOL_CALLS]name[ARGS]{...}};</li>
 *   <li>Llama 3.x: {@code {"name": ..., "parameters": {...}}}, optionally after {@code <|python_tag|>};</li>
 *   <li>Qwen3-Coder: {@code <tool_call><function=NAME><parameter=KEY>VALUE</parameter></function></tool_call>};
 *       Functionary: {@code <function=NAME>{...}</function>};</li>
 *   <li>DeepSeek: {@code <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>...<｜tool▁call▁end｜>}, V3's and V3.1's forms;</li>
 *   <li>plain JSON: such an object, a list of them, {@code {"tool_calls": [...]}} or
 *       {@code {"function": {...}}}. Untagged JSON counts only when it names one of the request's tools, so an
 *       answer that merely is JSON stays text.</li>
 * </ul>
 * Arguments given as a JSON string are decoded into an object, as Ollama sends them. Pure and thread-safe.
 */
public final class ToolCallParser {
    /** The markers that open a tool call in some model's output; the streaming parser holds text back at them. */
    static final List<String> OPENERS = List.of("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "<function=",
            "<｜tool▁calls▁begin｜>");

    /** The answer split into its text and its tool calls (empty when there are none). */
    public record Result(String content, List<ToolCall> toolCalls) {}

    private ToolCallParser() {}

    /** Parses {@code text}; {@code toolNames} are the request's tools (may be empty: then any name counts). */
    public static Result parse(String text, Set<String> toolNames) {
        String trimmed = text.strip();
        if (trimmed.contains("<tool_call>")) {
            Result r = tagged(text);
            if (!r.toolCalls().isEmpty()) {
                return r;
            }
        }
        int deepseek = trimmed.indexOf(DEEPSEEK_BEGIN);
        if (deepseek >= 0) {
            List<ToolCall> calls = deepseek(trimmed.substring(deepseek));
            if (!calls.isEmpty()) {
                return new Result(trimmed.substring(0, deepseek).strip(), calls);
            }
        }
        int function = trimmed.indexOf("<function=");
        if (function >= 0) {
            List<ToolCall> calls = functionTags(trimmed.substring(function));
            if (!calls.isEmpty()) {
                return new Result(trimmed.substring(0, function).strip(), calls);
            }
        }
        int mistral = trimmed.indexOf("[TOOL_CALLS]");
        if (mistral >= 0) {
            List<ToolCall> calls = mistral(trimmed.substring(mistral + "[TOOL_CALLS]".length()));
            if (!calls.isEmpty()) {
                return new Result(trimmed.substring(0, mistral).strip(), calls);
            }
        }
        String json = trimmed;
        boolean tagged = false;
        if (json.startsWith("<|python_tag|>")) {
            json = json.substring("<|python_tag|>".length()).strip();
            tagged = true;
        }
        if (json.startsWith("```")) {
            json = json.replaceFirst("^```(?:json)?\\s*", "").replaceFirst("\\s*```$", "");
        }
        if (json.startsWith("{") || json.startsWith("[")) {
            List<ToolCall> calls = new ArrayList<>();
            int pos = 0;
            // Llama 3 may write several calls separated by ';' or newlines.
            while (pos < json.length()) {
                JsonValues.Parsed p = JsonValues.parsePrefix(json, pos);
                if (p == null) {
                    calls.clear();
                    break;
                }
                collect(p.value(), calls);
                pos = p.end();
                while (pos < json.length() && (Character.isWhitespace(json.charAt(pos)) || json.charAt(pos) == ';'
                        || json.charAt(pos) == ',')) {
                    pos++;
                }
            }
            boolean known = tagged || toolNames.isEmpty()
                    || calls.stream().allMatch(c -> toolNames.contains(c.name()));
            if (!calls.isEmpty() && known) {
                return new Result("", calls);
            }
        }
        return new Result(text, List.of());
    }

    private static Result tagged(String text) {
        List<ToolCall> calls = new ArrayList<>();
        StringBuilder content = new StringBuilder();
        int pos = 0;
        while (true) {
            int open = text.indexOf("<tool_call>", pos);
            if (open < 0) {
                content.append(text.substring(pos));
                break;
            }
            content.append(text, pos, open);
            int start = open + "<tool_call>".length();
            int close = text.indexOf("</tool_call>", start);
            String body = (close < 0 ? text.substring(start) : text.substring(start, close)).strip();
            if (body.startsWith("<function=")) { // Qwen3-Coder: XML inside the tag
                calls.addAll(functionTags(body));
            } else {
                JsonValues.Parsed p = JsonValues.parsePrefix(body, 0);
                if (p != null) {
                    collect(p.value(), calls);
                }
            }
            if (close < 0) {
                break;
            }
            pos = close + "</tool_call>".length();
        }
        return new Result(content.toString().strip(), calls);
    }

    private static final String DEEPSEEK_BEGIN = "<\uff5ctool\u2581calls\u2581begin\uff5c>";
    private static final String DEEPSEEK_CALL = "<\uff5ctool\u2581call\u2581begin\uff5c>";
    private static final String DEEPSEEK_SEP = "<\uff5ctool\u2581sep\uff5c>";
    private static final String DEEPSEEK_CALL_END = "<\uff5ctool\u2581call\u2581end\uff5c>";

    /**
     * {@code <function=NAME>...</function>}, one or more: Qwen3-Coder's {@code <parameter=KEY>VALUE</parameter>}
     * inside (a value that reads as JSON is taken as JSON, else as text), or Functionary's JSON object.
     */
    private static List<ToolCall> functionTags(String text) {
        List<ToolCall> calls = new ArrayList<>();
        int pos = 0;
        while (true) {
            int open = text.indexOf("<function=", pos);
            if (open < 0) {
                break;
            }
            int nameEnd = text.indexOf('>', open);
            if (nameEnd < 0) {
                break;
            }
            String name = text.substring(open + "<function=".length(), nameEnd).strip();
            int close = text.indexOf("</function>", nameEnd);
            String body = (close < 0 ? text.substring(nameEnd + 1) : text.substring(nameEnd + 1, close)).strip();
            if (!name.isEmpty()) {
                if (body.startsWith("{")) {
                    JsonValues.Parsed p = JsonValues.parsePrefix(body, 0);
                    calls.add(new ToolCall(name, arguments(p == null ? null : p.value())));
                } else {
                    calls.add(new ToolCall(name, parameterTags(body)));
                }
            }
            if (close < 0) {
                break;
            }
            pos = close + "</function>".length();
        }
        return calls;
    }

    private static Map<String, Object> parameterTags(String body) {
        Map<String, Object> args = new LinkedHashMap<>();
        int pos = 0;
        while (true) {
            int open = body.indexOf("<parameter=", pos);
            if (open < 0) {
                return args;
            }
            int keyEnd = body.indexOf('>', open);
            if (keyEnd < 0) {
                return args;
            }
            String key = body.substring(open + "<parameter=".length(), keyEnd).strip();
            int close = body.indexOf("</parameter>", keyEnd);
            String raw = close < 0 ? body.substring(keyEnd + 1) : body.substring(keyEnd + 1, close);
            // the value sits on its own lines: one newline either side belongs to the markup
            String value = raw.startsWith("\n") ? raw.substring(1) : raw;
            value = value.endsWith("\n") ? value.substring(0, value.length() - 1) : value;
            if (!key.isEmpty()) {
                args.put(key, jsonOrText(value));
            }
            if (close < 0) {
                return args;
            }
            pos = close + "</parameter>".length();
        }
    }

    /** A parameter's value: JSON where the whole of it reads as a number, object, list, boolean or null. */
    private static Object jsonOrText(String value) {
        String v = value.strip();
        if (v.isEmpty() || v.startsWith("\"")) {
            return value;
        }
        try {
            return JsonValues.parse(v);
        } catch (IllegalArgumentException text) {
            return value;
        }
    }

    /**
     * DeepSeek's calls after {@code <｜tool▁calls▁begin｜>}: {@code function<｜tool▁sep｜>NAME} and the arguments in a
     * JSON code fence (V3, R1), or {@code NAME<｜tool▁sep｜>} and the arguments as JSON (V3.1), each between
     * {@code <｜tool▁call▁begin｜>} and {@code <｜tool▁call▁end｜>}.
     */
    private static List<ToolCall> deepseek(String text) {
        List<ToolCall> calls = new ArrayList<>();
        int pos = 0;
        while (true) {
            int open = text.indexOf(DEEPSEEK_CALL, pos);
            if (open < 0) {
                return calls;
            }
            int start = open + DEEPSEEK_CALL.length();
            int end = text.indexOf(DEEPSEEK_CALL_END, start);
            String call = end < 0 ? text.substring(start) : text.substring(start, end);
            int sep = call.indexOf(DEEPSEEK_SEP);
            if (sep >= 0) {
                String head = call.substring(0, sep).strip();
                String rest = call.substring(sep + DEEPSEEK_SEP.length());
                String name = head;
                if (head.equals("function")) {
                    int nl = rest.indexOf('\n');
                    name = (nl < 0 ? rest : rest.substring(0, nl)).strip();
                    rest = nl < 0 ? "" : rest.substring(nl + 1);
                }
                String json = rest.strip().replaceFirst("^```(?:json)?\\s*", "").replaceFirst("\\s*```$", "");
                JsonValues.Parsed p = json.isEmpty() ? null : JsonValues.parsePrefix(json, 0);
                if (!name.isEmpty()) {
                    calls.add(new ToolCall(name, arguments(p == null ? null : p.value())));
                }
            }
            if (end < 0) {
                return calls;
            }
            pos = end + DEEPSEEK_CALL_END.length();
        }
    }

    private static List<ToolCall> mistral(String rest) {
        List<ToolCall> calls = new ArrayList<>();
        String s = rest.strip();
        if (s.startsWith("[") || s.startsWith("{")) {
            JsonValues.Parsed p = JsonValues.parsePrefix(s, 0);
            if (p != null) {
                collect(p.value(), calls);
            }
            return calls;
        }
        // Newer Mistral: name[ARGS]{...}, repeated after further [TOOL_CALLS] markers.
        for (String part : s.split("\\[TOOL_CALLS]")) {
            int args = part.indexOf("[ARGS]");
            if (args < 0) {
                continue;
            }
            String name = part.substring(0, args).strip();
            JsonValues.Parsed p = JsonValues.parsePrefix(part, args + "[ARGS]".length());
            if (!name.isEmpty() && p != null) {
                calls.add(new ToolCall(name, arguments(p.value())));
            }
        }
        return calls;
    }

    private static void collect(Object value, List<ToolCall> out) {
        if (value instanceof List<?> list) {
            for (Object o : list) {
                collect(o, out);
            }
            return;
        }
        if (!(value instanceof Map<?, ?> m)) {
            return;
        }
        if (m.get("tool_calls") instanceof List<?> list) {
            collect(list, out);
            return;
        }
        if (m.get("function") instanceof Map<?, ?> fn) {
            collect(fn, out);
            return;
        }
        if (m.get("name") instanceof String name && !name.isEmpty()) {
            Object args = m.containsKey("arguments") ? m.get("arguments") : m.get("parameters");
            out.add(new ToolCall(name, arguments(args)));
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> arguments(Object args) {
        if (args instanceof Map<?, ?> m) {
            return (Map<String, Object>) m;
        }
        if (args instanceof String s && !s.isBlank()) {
            try {
                if (JsonValues.parse(s) instanceof Map<?, ?> m) {
                    return (Map<String, Object>) m;
                }
            } catch (IllegalArgumentException notJson) {
                // fall through: keep the text under a key rather than lose it
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("value", s);
            return out;
        }
        return new LinkedHashMap<>();
    }

    /**
     * Whether a template writes its tool calls after a tag ({@code <tool_call>}, {@code [TOOL_CALLS]}, ...) rather
     * than as bare JSON (Llama 3's): then an answer that merely starts with JSON is text, as Ollama reads it.
     */
    public static boolean tagsToolCalls(String template) {
        if (template == null) {
            return false;
        }
        for (String o : OPENERS) {
            if (!o.equals("<|python_tag|>") && template.contains(o)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code text} (leading whitespace ignored) could still become a tool call as more arrives. */
    static boolean mayStartToolCall(String text) {
        return mayStartToolCall(text, true);
    }

    /** {@link #mayStartToolCall(String)}; {@code bareJson} false: only a tag starts one, not a brace or a fence. */
    static boolean mayStartToolCall(String text, boolean bareJson) {
        String s = text.stripLeading();
        if (s.isEmpty()) {
            return true;
        }
        if (bareJson && (s.startsWith("{") || s.startsWith("[") || s.startsWith("```"))) {
            return true;
        }
        for (String o : OPENERS) {
            if (s.startsWith(o) || o.startsWith(s)) {
                return true;
            }
        }
        return "```".startsWith(s);
    }
}
