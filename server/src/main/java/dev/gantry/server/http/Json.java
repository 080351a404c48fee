package dev.gantry.server.http;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Optional;

/**
 * The server's JSON: one configured mapper (snake_case, nulls left out, as Ollama writes), and typed field readers
 * that turn a wrong type into a 400 that names the field.
 */
public final class Json {
    // characters beyond the BMP (emoji) go out as their UTF-8 bytes, as Go writes them, not as escaped surrogates
    public static final ObjectMapper MAPPER = new ObjectMapper(com.fasterxml.jackson.core.JsonFactory.builder()
            .enable(com.fasterxml.jackson.core.json.JsonWriteFeature.COMBINE_UNICODE_SURROGATES_IN_UTF8).build())
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL)
            // a body's first JSON value counts and what follows it is ignored, as Go's json.Decoder (gin's
            // ShouldBindJSON) reads Ollama's requests
            .disable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    static {
        MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder()
                .maxNestingDepth(200).maxStringLength(64 << 20).build());
    }

    private Json() {}

    public static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode " + value.getClass().getSimpleName(), e);
        }
    }

    /** {@code value} as one NDJSON line. */
    public static byte[] line(Object value) {
        byte[] json = write(value);
        byte[] out = java.util.Arrays.copyOf(json, json.length + 1);
        out[json.length] = '\n';
        return out;
    }

    public static byte[] error(String message) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("error", message);
        return write(n);
    }

    public static byte[] errorLine(String message) {
        ObjectNode n = MAPPER.createObjectNode();
        n.put("error", message);
        return line(n);
    }

    /** Parses a request body that must be one JSON object. */
    public static ObjectNode parseObject(byte[] body) {
        if (body.length == 0) {
            throw ApiException.badRequest("missing request body");
        }
        JsonNode node;
        try {
            node = MAPPER.readTree(body);
        } catch (java.io.IOException e) {
            String m = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            throw ApiException.badRequest("invalid JSON: " + m);
        }
        if (!(node instanceof ObjectNode o)) {
            throw ApiException.badRequest("request body must be a JSON object");
        }
        return o;
    }

    public static Optional<String> string(ObjectNode o, String field) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            return Optional.empty();
        }
        if (!n.isTextual()) {
            throw wrongType(field, "a string", n);
        }
        return Optional.of(n.textValue());
    }

    public static String requiredString(ObjectNode o, String field) {
        return string(o, field).filter(s -> !s.isEmpty())
                .orElseThrow(() -> ApiException.badRequest(field + " is required"));
    }

    public static Optional<Boolean> bool(ObjectNode o, String field) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            return Optional.empty();
        }
        if (!n.isBoolean()) {
            throw wrongType(field, "a boolean", n);
        }
        return Optional.of(n.booleanValue());
    }

    public static Optional<ObjectNode> object(ObjectNode o, String field) {
        JsonNode n = o.get(field);
        if (n == null || n.isNull()) {
            return Optional.empty();
        }
        if (!(n instanceof ObjectNode obj)) {
            throw wrongType(field, "an object", n);
        }
        return Optional.of(obj);
    }

    public static ApiException wrongType(String field, String expected, JsonNode actual) {
        return ApiException.badRequest("invalid value for " + field + ": expected " + expected + ", got "
                + actual.getNodeType().toString().toLowerCase(java.util.Locale.ROOT));
    }

    /**
     * {@code s} with each unpaired surrogate (valid in JSON's {@code \\u} escapes, never in UTF-8) replaced by
     * U+FFFD, as Go's JSON decoder reads it; the same string when there is none.
     */
    public static String wellFormed(String s) {
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean lone = Character.isHighSurrogate(c)
                    ? i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))
                    : Character.isLowSurrogate(c) && (i == 0 || !Character.isHighSurrogate(s.charAt(i - 1)));
            if (lone && out == null) {
                out = new StringBuilder(s.length()).append(s, 0, i);
            }
            if (out != null) {
                out.append(lone ? '\ufffd' : c);
            }
        }
        return out == null ? s : out.toString();
    }
}
