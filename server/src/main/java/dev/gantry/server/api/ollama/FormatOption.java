package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.runtime.grammar.JsonGrammar;
import dev.gantry.runtime.grammar.SchemaException;
import dev.gantry.server.http.ApiException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Ollama's {@code format} field as a grammar: {@code "json"} is any JSON object, an object is a JSON Schema; absent,
 * null or {@code ""} is none. A schema the grammar writer refuses, or any other value, is a 400 that says why.
 */
final class FormatOption {
    private FormatOption() {}

    /**
     * The most values a schema may have. An enum of 50,000 strings took 3.3 s to turn into GBNF and 2.8 s for
     * llama.cpp to compile (on the dev machine), on the runner's thread, and then every rejected draw applied it to
     * the whole vocabulary. OpenAI's structured outputs allow 5,000 object properties and 1,000 enum values.
     */
    static final int MAX_SCHEMA_VALUES = 5_000;

    /** Values in the tree (every node, keys counted with theirs), counting no further than {@code limit}. */
    static int size(JsonNode n, int limit) {
        int count = 1;
        java.util.ArrayDeque<JsonNode> todo = new java.util.ArrayDeque<>();
        todo.add(n);
        while (!todo.isEmpty()) {
            for (JsonNode child : todo.poll()) {
                if (++count > limit) {
                    return count;
                }
                if (child.isContainerNode()) {
                    todo.add(child);
                }
            }
        }
        return count;
    }

    /** The GBNF grammar {@code format} asks for, or null for free text. */
    static String grammar(JsonNode format) {
        if (format == null || format.isNull() || (format.isTextual() && format.textValue().isEmpty())) {
            return null;
        }
        if (format.isTextual() && format.textValue().equals("json")) {
            return JsonGrammar.anyObject();
        }
        if (!format.isObject()) {
            throw ApiException.badRequest("invalid format: expected \"json\" or a JSON Schema object, got "
                    + (format.isTextual() ? "\"" + format.textValue() + "\"" : format.getNodeType().toString()
                    .toLowerCase(java.util.Locale.ROOT)));
        }
        int size = size(format, MAX_SCHEMA_VALUES + 1);
        if (size > MAX_SCHEMA_VALUES) {
            throw ApiException.badRequest("invalid format: the schema has more than " + MAX_SCHEMA_VALUES
                    + " values (keys, items and enum entries together); a larger one takes seconds to compile into"
                    + " a grammar and to apply, time in which its model serves no one else");
        }
        try {
            return JsonGrammar.fromSchema(plain(format));
        } catch (SchemaException e) {
            throw ApiException.badRequest("invalid format: " + e.getMessage());
        }
    }

    /** The tree as the plain Java values {@link JsonGrammar} reads; decimals stay exact. */
    static Object plain(JsonNode n) {
        return switch (n.getNodeType()) {
            case OBJECT -> {
                Map<String, Object> m = new LinkedHashMap<>();
                n.properties().forEach(e -> m.put(e.getKey(), plain(e.getValue())));
                yield m;
            }
            case ARRAY -> {
                List<Object> l = new ArrayList<>();
                n.forEach(v -> l.add(plain(v)));
                yield l;
            }
            case STRING -> n.textValue();
            case BOOLEAN -> n.booleanValue();
            case NUMBER -> n.isIntegralNumber() ? n.bigIntegerValue() : n.decimalValue();
            default -> null;
        };
    }
}
