package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.models.LocalModel;
import dev.gantry.server.http.Json;
import java.util.Map;

/**
 * A model's {@code PARAMETER} layer as default {@code options}: each value applies unless the request sets the same
 * option, as in Ollama. Pure.
 */
public final class ModelDefaults {
    private static final System.Logger LOG = System.getLogger("gantry.api");

    private ModelDefaults() {}

    /** The request's options over the model's defaults, parsed. */
    public static OllamaOptions options(LocalModel model, ObjectNode request) {
        Map<String, Object> params = model.parameters();
        if (params.isEmpty()) {
            return OllamaOptions.parse(request);
        }
        ObjectNode merged = Json.MAPPER.createObjectNode();
        for (Map.Entry<String, Object> e : params.entrySet()) {
            JsonNode v = Json.MAPPER.valueToTree(e.getValue());
            // a bad value in a model's layer is the model's fault, not the client's: skip it, say so once per request
            try {
                ObjectNode one = Json.MAPPER.createObjectNode();
                one.set(e.getKey(), v);
                OllamaOptions.parse(one);
                merged.set(e.getKey(), v);
            } catch (RuntimeException bad) {
                LOG.log(System.Logger.Level.WARNING, "ignoring parameter {0} of {1}: {2}", e.getKey(),
                        model.name().shortName(), bad.getMessage());
            }
        }
        if (request != null) {
            merged.setAll(request);
        }
        return OllamaOptions.parse(merged);
    }
}
