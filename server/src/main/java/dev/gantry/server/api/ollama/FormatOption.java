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
