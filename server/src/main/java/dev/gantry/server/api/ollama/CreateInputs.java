package dev.gantry.server.api.ollama;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.models.gguf.GgufMetadata;
import dev.gantry.models.gguf.Quantization;
import dev.gantry.server.http.ApiException;
import dev.gantry.server.http.Json;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The checks of a create's inputs that need no store: its {@code quantize}, its adapters against the weights, the
 * files' models. Each failure is a 400 in words a client can act on.
 */
final class CreateInputs {
    private CreateInputs() {}

    /** A create's {@code quantize} (or {@code quantization}): the target's name as given and its llama_ftype. */
    record Quantize(String name, int fileType) {
        /** The source types llama.cpp quantizes from without requantizing: Ollama's F16 and F32, and BF16. */
        private static final java.util.Set<String> SOURCES = java.util.Set.of("F32", "F16", "BF16");

        void requireSource(GgufMetadata g) {
            String level = g.quantizationLevel();
            if (!SOURCES.contains(level)) {
                // Ollama's words, which clients match on (BF16 is taken too)
                throw ApiException.badRequest("quantization is only supported for F16 and F32 models");
            }
        }

        /** Whether the weights are not already of the target type. */
        boolean changes(GgufMetadata g) {
            return !g.quantizationLevel().equals(Quantization.fileTypeName(fileType));
        }
    }

    static Optional<Quantize> quantize(ObjectNode body) {
        Optional<String> given = Json.string(body, "quantize").filter(q -> !q.isEmpty())
                .or(() -> Json.string(body, "quantization").filter(q -> !q.isEmpty()));
        if (given.isEmpty()) {
            return Optional.empty();
        }
        String name = given.get().toUpperCase(java.util.Locale.ROOT);
        java.util.OptionalInt fileType = Quantization.target(name);
        if (fileType.isEmpty()) {
            throw ApiException.badRequest("unsupported quantization type " + name + " - supported types are "
                    + String.join(", ", Quantization.targets()));
        }
        return Optional.of(new Quantize(name, fileType.getAsInt()));
    }

    static final String MORE_THAN_ONE_MODEL = "more than one GGUF model in files; give one model (and "
            + "optionally one projector)";
    static final String ONLY_A_PROJECTOR = "files hold no GGUF model, only a projector";

    /**
     * An adapter llama.cpp can put on these weights: of their architecture, and each {@code NAME.lora_a} and
     * {@code NAME.lora_b} pair shaped for the weights' tensor {@code NAME} (n_in by rank and rank by n_out; the token
     * embedding's the other way round), as llama.cpp checks them when it loads the adapter.
     */
    static void requireAdapterFits(String file, GgufMetadata adapter, GgufMetadata weights) {
        if (!adapter.architecture().equals(weights.architecture())) {
            throw ApiException.badRequest("adapter \"" + file + "\" is for " + adapter.architecture()
                    + " models, not " + weights.architecture());
        }
        Map<String, List<Long>> shapes = new java.util.HashMap<>();
        weights.tensors().forEach(t -> shapes.put(t.name(), t.dimensions()));
        Map<String, List<Long>> a = new java.util.HashMap<>();
        Map<String, List<Long>> b = new java.util.HashMap<>();
        for (dev.gantry.models.gguf.GgufTensorInfo t : adapter.tensors()) {
            if (t.name().endsWith(".lora_a")) {
                a.put(t.name().substring(0, t.name().length() - 7), t.dimensions());
            } else if (t.name().endsWith(".lora_b")) {
                b.put(t.name().substring(0, t.name().length() - 7), t.dimensions());
            } else if (!t.name().endsWith("_norm.weight")) { // llama.cpp takes norms too, refuses anything else
                throw ApiException.badRequest("adapter \"" + file + "\" has a tensor " + t.name() + " that is no "
                        + "LoRA matrix (.lora_a, .lora_b)");
            }
        }
        java.util.Set<String> adapted = new java.util.TreeSet<>(a.keySet());
        adapted.addAll(b.keySet());
        for (String tensor : adapted) {
            List<Long> base = shapes.get(tensor);
            List<Long> lb = b.get(tensor);
            List<Long> la = a.get(tensor);
            String problem = base == null ? "the model has no tensor " + tensor
                    : lb == null ? tensor + " has lora_a but no lora_b"
                    : la == null ? tensor + " has lora_b but no lora_a"
                    : la.size() < 2 || lb.size() < 2 || base.size() < 2 ? tensor + " is not a matrix"
                    : tensor.equals("token_embd.weight")
                            ? (base.get(0).equals(lb.get(1)) && base.get(1).equals(la.get(1)) ? null
                                    : tensor + " does not fit the model's shape")
                            : !base.get(0).equals(la.get(0)) || !base.get(1).equals(lb.get(1))
                                    ? tensor + " does not fit the model's shape " + base
                                    : !la.get(1).equals(lb.get(0)) ? tensor + "'s lora_a and lora_b ranks "
                                            + "differ" : null;
            if (problem != null) {
                throw ApiException.badRequest("adapter \"" + file + "\" does not fit this model (is it for another "
                        + "base model?): " + problem);
            }
        }
    }

    /** A LoRA adapter as llama.cpp loads one: a GGUF of {@code general.type} adapter and {@code adapter.type} lora. */
    static void requireAdapter(String file, GgufMetadata g) {
        if (!"adapter".equals(g.getString("general.type").orElse(""))
                || !"lora".equals(g.getString("adapter.type").orElse(""))) {
            throw ApiException.badRequest("adapter \"" + file + "\" is not a LoRA adapter in GGUF (general.type "
                    + "adapter, adapter.type lora); convert it with llama.cpp's convert_lora_to_gguf.py");
        }
    }
}
