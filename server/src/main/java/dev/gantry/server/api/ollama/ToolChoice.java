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
 * {@code <tool_call>} tag, Mistral's {@code [TOOL_CALLS]} list or, in its newer templates, {@code
 * [TOOL_CALLS]name[ARGS]}, Command's action block, gpt-oss's commentary message to {@code functions.NAME}, or bare
 * JSON as Llama 3 writes it).
 */
final class ToolChoice {
    private ToolChoice() {}

    /**
     * {@code tool_choice} of a chat body: auto, none or required; OpenAI's named function ({@code {"type":
     * "function", "function": {"name": ...}}}) is required, with {@link #named} telling which. Anything else is auto:
     * Ollama's chat ignores the field, and a client that sends it some other way keeps working.
     */
    static String of(ObjectNode body) {
        JsonNode n = body.get("tool_choice");
        if (n != null && n.isTextual() && List.of("none", "required").contains(n.textValue())) {
            return n.textValue();
        }
        return named(body) != null ? "required" : "auto";
    }

    /** The function OpenAI's object form of {@code tool_choice} names, or null. */
    static String named(ObjectNode body) {
        JsonNode n = body.get("tool_choice");
        return n != null && n.isObject() && "function".equals(n.path("type").textValue())
                ? n.path("function").path("name").textValue() : null;
    }

    /** The tools a named {@code tool_choice} leaves: the one of that name (a 400 where there is none). */
    static List<Object> chosen(ObjectNode body, List<Object> tools) {
        String name = named(body);
        if (name == null) {
            return tools;
        }
        List<Object> out = new ArrayList<>();
        for (Object tool : tools) {
            if (tool instanceof Map<?, ?> m && m.get("function") instanceof Map<?, ?> fn
                    && name.equals(fn.get("name"))) {
                out.add(tool);
            }
        }
        if (out.isEmpty()) {
            throw ApiException.badRequest("tool_choice names the function \"" + name + "\", which is not among the "
                    + "tools");
        }
        return out;
    }

    /**
     * The grammar of one call of one of {@code tools} (Ollama's tool objects as plain values) in the format the
     * template writes calls in; each tool's {@code parameters} schema holds its arguments where the grammar writer
     * supports it, else they are any JSON object.
     */
    static String grammar(List<Object> tools, String template) {
        return grammar(tools, template, false);
    }

    /**
     * {@link #grammar(List, String)}; {@code closeReasoning}: the prompt ended inside Command's reasoning block, which
     * the call first closes ({@code <|END_THINKING|>}), as the model would before acting.
     */
    static String grammar(List<Object> tools, String template, boolean closeReasoning) {
        String t = template == null ? "" : template;
        String before = "";
        String after = "";
        String argumentsKey = "arguments";
        String nameKey = "name";
        boolean command = dev.gantry.models.chat.CommandParser.isCommand(t);
        if (command) { // Command R7B / Command A: a list of {tool_call_id, tool_name, parameters} in an action block
            before = (closeReasoning ? "<|END_THINKING|>" : "") + "<|START_ACTION|>[";
            after = "]<|END_ACTION|>";
            nameKey = "tool_name";
            argumentsKey = "parameters";
        } else if (t.contains("<tool_call>")) {
            before = "<tool_call>\n";
            after = "\n</tool_call>";
        } else if (t.contains("[TOOL_CALLS]")) {
            before = "[TOOL_CALLS][";
            after = "]";
        } else if (t.contains("<|python_tag|>") || t.contains("<|start_header_id|>")) {
            argumentsKey = "parameters"; // Llama 3.1's JSON calls
        }
        List<Object> calls = new ArrayList<>();
        List<String> names = new ArrayList<>();
        // each tool's parameters live under the grammar's root as $defs/tool<i>, their $refs (written against the
        // parameters as a root: "#/$defs/Person", "#") rewritten to point there
        Map<String, Object> defs = new LinkedHashMap<>();
        for (Object tool : tools) {
            if (!(tool instanceof Map<?, ?> m) || !(m.get("function") instanceof Map<?, ?> fn)
                    || !(fn.get("name") instanceof String name) || name.isBlank()) {
                continue;
            }
            // a function without parameters takes none: {}
            Object parameters = fn.get("parameters") instanceof Map<?, ?> p && !p.isEmpty() ? p
                    : Map.of("type", "object", "properties", Map.of());
            try {
                JsonGrammar.fromSchema(parameters); // its keywords are ones a grammar can hold
            } catch (RuntimeException unsupported) {
                // without the keywords a grammar cannot hold (a pattern, multipleOf...) the rest still holds; then
                // without the bounds too (those of a range too wide to list); then any object
                parameters = holdable(parameters);
            }
            String key = "tool" + defs.size();
            defs.put(key, rebased(parameters, "#/$defs/" + key));
            names.add(name);
            Map<String, Object> properties = new LinkedHashMap<>();
            if (command) {
                properties.put("tool_call_id", Map.of("const", "0"));
            }
            properties.put(nameKey, Map.of("const", name));
            properties.put(argumentsKey, Map.of("$ref", "#/$defs/" + key));
            calls.add(Map.of("type", "object", "properties", properties, "required",
                    List.copyOf(properties.keySet())));
        }
        if (calls.isEmpty()) {
            throw ApiException.badRequest("tool_choice \"required\" needs tools with a function name");
        }
        boolean harmony = dev.gantry.models.chat.HarmonyParser.isHarmony(t);
        java.util.function.Supplier<String> write;
        if (harmony || t.contains("[ARGS]")) {
            // gpt-oss: a commentary message to functions.NAME, its body the arguments as JSON (the call's end,
            // <|call|>, ends the turn); newer Mistral templates: [TOOL_CALLS]name[ARGS]{arguments}
            List<String> heads = new ArrayList<>();
            List<Object> arguments = new ArrayList<>();
            for (int i = 0; i < names.size(); i++) {
                heads.add(harmony
                        ? "<|channel|>commentary to=functions." + names.get(i) + " <|constrain|>json<|message|>"
                        : "[TOOL_CALLS]" + names.get(i) + "[ARGS]");
                arguments.add(Map.of("$ref", "#/$defs/tool" + i));
            }
            Map<String, Object> root = Map.of("$defs", defs);
            write = () -> JsonGrammar.alternatives(root, heads, arguments);
        } else {
            Map<String, Object> schema = new LinkedHashMap<>();
            schema.put("anyOf", calls);
            schema.put("$defs", defs);
            String head = before;
            String tail = after;
            write = () -> JsonGrammar.fromSchema(schema, head, tail);
        }
        try {
            return write.get();
        } catch (RuntimeException e) { // what the tools' schemas did not say alone: any object for the arguments
            defs.replaceAll((k, v) -> Map.of("type", "object"));
            return write.get();
        }
    }

    /** Keywords that constrain values in ways the grammar writer does not take; a tool's schema goes without them. */
    private static final java.util.Set<String> UNHELD = java.util.Set.of("pattern", "patternProperties", "multipleOf",
            "not", "uniqueItems", "minProperties", "maxProperties", "contains", "minContains", "maxContains", "if",
            "then", "else", "propertyNames", "dependentRequired", "dependentSchemas", "dependencies",
            "unevaluatedProperties", "unevaluatedItems");
    /** Bounds the grammar writer takes only where a range is small: dropped in a second try. */
    private static final java.util.Set<String> BOUNDS = java.util.Set.of("minimum", "maximum", "exclusiveMinimum",
            "exclusiveMaximum");

    private static Object holdable(Object parameters) {
        for (java.util.Set<String> drop : List.of(UNHELD, union(UNHELD, BOUNDS))) {
            Object relaxed = relaxed(parameters, drop);
            try {
                JsonGrammar.fromSchema(relaxed);
                return relaxed;
            } catch (RuntimeException still) {
                // try dropping more
            }
        }
        return Map.of("type", "object");
    }

    private static java.util.Set<String> union(java.util.Set<String> a, java.util.Set<String> b) {
        java.util.Set<String> u = new java.util.HashSet<>(a);
        u.addAll(b);
        return u;
    }

    /** Keywords whose values are subschemas, or maps or lists of them: what {@link #relaxed} goes into. */
    private static final java.util.Set<String> SUBSCHEMAS = java.util.Set.of("items", "additionalProperties",
            "anyOf", "oneOf", "allOf", "prefixItems");
    private static final java.util.Set<String> SCHEMA_MAPS = java.util.Set.of("properties", "$defs", "definitions");

    /**
     * A copy of a schema without the keywords in {@code drop}, in it and in its subschemas only (a {@code const},
     * {@code enum} or {@code default} value is copied as it is, and a property or definition keeps its name).
     */
    private static Object relaxed(Object schema, java.util.Set<String> drop) {
        if (!(schema instanceof Map<?, ?> m)) {
            return schema;
        }
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((k, v) -> {
            String key = String.valueOf(k);
            if (drop.contains(key)) {
                return;
            }
            if (SCHEMA_MAPS.contains(key) && v instanceof Map<?, ?> named) {
                Map<String, Object> kept = new LinkedHashMap<>();
                named.forEach((name, sub) -> kept.put(String.valueOf(name), relaxed(sub, drop)));
                out.put(key, kept);
            } else if (SUBSCHEMAS.contains(key) && v instanceof List<?> l) {
                out.put(key, l.stream().map(sub -> relaxed(sub, drop)).toList());
            } else if (SUBSCHEMAS.contains(key)) {
                out.put(key, relaxed(v, drop));
            } else {
                out.put(key, v);
            }
        });
        return out;
    }

    /** A copy of {@code schema} whose local {@code $ref}s ("#", "#/...") point below {@code at} instead. */
    private static Object rebased(Object schema, String at) {
        if (schema instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put(String.valueOf(k), "$ref".equals(k) && v instanceof String ref
                    && (ref.equals("#") || ref.startsWith("#/")) ? at + ref.substring(1) : rebased(v, at)));
            return out;
        }
        if (schema instanceof List<?> l) {
            List<Object> out = new ArrayList<>();
            l.forEach(v -> out.add(rebased(v, at)));
            return out;
        }
        return schema;
    }

    /** Whether {@link #grammar} writes bare JSON calls for this template (the parser must then read bare JSON). */
    static boolean bareJson(String template) {
        return template == null || !(template.contains("<tool_call>") || template.contains("[TOOL_CALLS]"));
    }
}
