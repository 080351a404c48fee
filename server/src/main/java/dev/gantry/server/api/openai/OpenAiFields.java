package dev.gantry.server.api.openai;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** The typed fields of an OpenAI request: each wrong type or range is a 400 that names the field. */
final class OpenAiFields {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private OpenAiFields() {
    }

    static boolean bool(ObjectNode o, String field, boolean otherwise) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            return otherwise;
        }
        if (!n.isBoolean()) {
            throw OpenAiError.invalid(field, field + " must be a boolean");
        }
        return n.booleanValue();
    }

    /**
     * The most tokens to generate: at least 1, as OpenAI takes it, or -1 (no limit) and -2 (until the context is
     * full), as llama-server and Ollama read them. 0 and the other negatives are a 400: Ollama would read them as no
     * limit, a runaway generation for a client that meant none.
     */
    static Integer maxTokens(ObjectNode o, String field, boolean echoes) {
        Integer max = integer(o, field);
        if (max != null && max < 1 && max != -1 && max != -2) {
            throw OpenAiError.invalid(field, field + " must be at least 1 (or -1 for no limit" + (echoes
                    ? "; 0 only with echo, for the prompt alone" : "") + "), got " + max);
        }
        return max;
    }

    static Integer integer(ObjectNode o, String field) {
        Long l = longInteger(o, field);
        if (l != null && l != l.intValue()) {
            throw OpenAiError.invalid(field, field + " must be an integer from -2147483648 to 2147483647");
        }
        return l == null ? null : l.intValue();
    }

    static Long longInteger(ObjectNode o, String field) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            return null;
        }
        if (!n.isIntegralNumber()) {
            throw OpenAiError.invalid(field, field + " must be an integer");
        }
        if (!n.canConvertToLong()) {
            throw OpenAiError.invalid(field, field + " must be an integer of at most 64 bits");
        }
        return n.longValue();
    }

    static JsonNode numberOr(ObjectNode o, String field, double otherwise) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            return NODES.numberNode(otherwise);
        }
        if (!n.isNumber()) {
            throw OpenAiError.invalid(field, field + " must be a number");
        }
        if (!Double.isFinite(n.doubleValue())) {
            throw OpenAiError.invalid(field, field + " must be a finite number");
        }
        return n;
    }
}
