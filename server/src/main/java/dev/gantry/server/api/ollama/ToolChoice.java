package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.runtime.grammar.JsonGrammar;
import dev.gantry.server.http.ApiException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A chat's {@code tool_choice} (OpenAI's, which {@code /v1/chat/completions} passes on; Ollama's chat has none):
 * {@code auto} leaves the tools to the model, {@code none} takes them away, and {@code required} holds the answer to
 * one call of one of the tools with a grammar, written the way the model's template calls tools (a Hermes-style
 * {@code <tool_call>} tag, Mistral's {@code [TOOL_CALLS]}, or bare JSON as Llama 3 writes it).
 */
final class ToolChoice {
    private ToolChoice() {}

    /** {@code tool_choice} of a chat body: auto, none or required (auto where absent). */
    static String of(ObjectNode body) {
        JsonNode n = body.get("tool_choice");
        if (n == null || n.isNull()) {
            return "auto";
        }
        if (!n.isTextual() || !List.of("auto", "none", "required").contains(n.textValue())) {
            throw ApiException.badRequest("tool_choice must be \"auto\", \"none\" or \"required\"");
        }
        return n.textValue();
    }

    /**
     * The grammar of one call of one of {@code tools} (Ollama's tool objects as plain values) in the format the
     * template writes calls in; each tool's {@code parameters} schema holds its arguments where the grammar writer
     * supports it, else they are any JSON object.
     */
    static String grammar(List<Object> tools, String template) {
        String t = template == null ? "" : template;
        String before = "";
        String after = "";
        String argumentsKey = "arguments";
        if (t.contains("<tool_call>")) {
            before = "<tool_call>\n";
            after = "\n</tool_call>";
        } else if (t.contains("[TOOL_CALLS]")) {
            before = "[TOOL_CALLS][";
            after = "]";
        } else if (t.contains("<|python_tag|>") || t.contains("<|start_header_id|>")) {
            argumentsKey = "parameters"; // Llama 3.1's JSON calls
        }
        List<Object> calls = new ArrayList<>();
        for (Object tool : tools) {
            if (!(tool instanceof Map<?, ?> m) || !(m.get("function") instanceof Map<?, ?> fn)
                    || !(fn.get("name") instanceof String name)) {
                continue;
            }
            Object parameters = fn.get("parameters") instanceof Map<?, ?> p && !p.isEmpty() ? p
                    : Map.of("type", "object");
            try {
                JsonGrammar.fromSchema(parameters); // its keywords are ones a grammar can hold
            } catch (RuntimeException unsupported) {
                parameters = Map.of("type", "object");
            }
            Map<String, Object> properties = new LinkedHashMap<>();
            properties.put("name", Map.of("const", name));
            properties.put(argumentsKey, parameters);
            calls.add(Map.of("type", "object", "properties", properties, "required", List.of("name", argumentsKey)));
        }
        if (calls.isEmpty()) {
            throw ApiException.badRequest("tool_choice \"required\" needs tools with a function name");
        }
        Object schema = calls.size() == 1 ? calls.getFirst() : Map.of("anyOf", calls);
        return JsonGrammar.fromSchema(schema, before, after);
    }

    /** Whether {@link #grammar} writes bare JSON calls for this template (the parser must then read bare JSON). */
    static boolean bareJson(String template) {
        return template == null || !(template.contains("<tool_call>") || template.contains("[TOOL_CALLS]"));
    }
}
