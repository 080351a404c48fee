package dev.gantry.server.api.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** OpenAI's {@code tool_choice} as Gantry's chat body takes it: the tools sent, and whether a call is required. */
final class OpenAiToolChoice {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private OpenAiToolChoice() {}

    /**
     * OpenAI's {@code tool_choice} onto the chat body: {@code auto} (or none given) leaves the tools to the model,
     * {@code none} takes them away, {@code required} makes the answer a call of one of them, and a named function
     * a call of that one (its tool alone is sent); Gantry's chat holds the answer to such a call with a grammar.
     */
    static void apply(ObjectNode req, ObjectNode out) {
        JsonNode choice = req.get("tool_choice");
        if (choice == null || choice.isNull()) {
            return;
        }
        JsonNode tools = out.get("tools");
        boolean anyTools = tools != null && !tools.isEmpty();
        if (choice.isTextual()) {
            switch (choice.textValue()) {
                case "auto" -> { }
                case "none" -> out.remove("tools");
                case "required" -> {
                    if (!anyTools) {
                        throw OpenAiError.invalid("tool_choice", "tool_choice \"required\" needs tools");
                    }
                    out.put("tool_choice", "required");
                }
                default -> throw OpenAiError.invalid("tool_choice", "tool_choice must be \"none\", \"auto\", "
                        + "\"required\", {\"type\": \"function\", \"function\": {\"name\": ...}} or "
                        + "{\"type\": \"allowed_tools\", ...}");
            }
            return;
        }
        if (choice.isObject() && "allowed_tools".equals(choice.path("type").textValue())) {
            allowedTools(choice.has("allowed_tools") ? choice.get("allowed_tools") : choice, tools, out);
            return;
        }
        String name = choice.path("function").path("name").textValue();
        if (!choice.isObject() || !"function".equals(choice.path("type").textValue()) || name == null) {
            throw OpenAiError.invalid("tool_choice", "tool_choice must be \"none\", \"auto\", \"required\", "
                    + "{\"type\": \"function\", \"function\": {\"name\": ...}} or {\"type\": \"allowed_tools\", ...}");
        }
        ArrayNode chosen = NODES.arrayNode();
        if (anyTools) {
            for (JsonNode t : tools) {
                if (name.equals(t.path("function").path("name").textValue())) {
                    chosen.add(t);
                }
            }
        }
        if (chosen.isEmpty()) {
            throw OpenAiError.invalid("tool_choice", "tool_choice names the function \"" + name + "\", which is not "
                    + "among the tools");
        }
        out.set("tools", chosen);
        out.put("tool_choice", "required");
    }

    /**
     * OpenAI's {@code allowed_tools} choice: the tools named in it are the ones sent (of those declared), and its
     * {@code mode} is {@code auto} (the model may call one or answer) or {@code required} (a call of one of them).
     * Its tools name their function as {@code {"type": "function", "function": {"name": ...}}}, or as the Responses
     * API writes it, {@code {"type": "function", "name": ...}}.
     */
    private static void allowedTools(JsonNode allowed, JsonNode tools, ObjectNode out) {
        String shape = "tool_choice {\"type\": \"allowed_tools\"} needs \"allowed_tools\": {\"mode\": \"auto\" or "
                + "\"required\", \"tools\": [{\"type\": \"function\", \"function\": {\"name\": ...}}, ...]}";
        String mode = allowed.path("mode").asText("");
        if (!allowed.isObject() || !allowed.path("tools").isArray()
                || !(mode.equals("auto") || mode.equals("required"))) {
            throw OpenAiError.invalid("tool_choice", shape);
        }
        java.util.Set<String> names = new java.util.LinkedHashSet<>();
        for (JsonNode t : allowed.get("tools")) {
            String name = t.path("function").path("name").isTextual() ? t.path("function").path("name").textValue()
                    : t.path("name").textValue();
            if (name == null) {
                throw OpenAiError.invalid("tool_choice", shape);
            }
            names.add(name);
        }
        ArrayNode chosen = NODES.arrayNode();
        java.util.Set<String> found = new java.util.HashSet<>();
        if (tools != null) {
            for (JsonNode t : tools) {
                String name = t.path("function").path("name").textValue();
                if (name != null && names.contains(name)) {
                    chosen.add(t);
                    found.add(name);
                }
            }
        }
        for (String name : names) {
            if (!found.contains(name)) {
                throw OpenAiError.invalid("tool_choice", "tool_choice allows the function \"" + name + "\", which is "
                        + "not among the tools");
            }
        }
        if (chosen.isEmpty()) {
            out.remove("tools"); // no tool allowed: as "none"
            if (mode.equals("required")) {
                throw OpenAiError.invalid("tool_choice", "tool_choice \"required\" needs tools");
            }
            return;
        }
        out.set("tools", chosen);
        if (mode.equals("required")) {
            out.put("tool_choice", "required");
        }
    }
}
