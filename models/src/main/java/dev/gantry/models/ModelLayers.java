package dev.gantry.models;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * What an Ollama manifest adds to the weights: the Go-template {@code TEMPLATE}, the {@code SYSTEM} prompt, the
 * {@code PARAMETER} defaults, the {@code MESSAGE} history, licenses and a vision projector; and, for the listing,
 * the manifest's digest and the size of all its blobs. A loose {@code *.gguf} file or the built-in model has
 * {@link #NONE}.
 *
 * @param template       the {@code application/vnd.ollama.image.template} layer (Go template syntax)
 * @param system         the {@code application/vnd.ollama.image.system} layer
 * @param parameters     the {@code application/vnd.ollama.image.params} layer: option name to value (a
 *                       {@code String}, {@code Number}, {@code Boolean} or a {@code List<String>} such as
 *                       {@code stop}); defaults under each request's {@code options}
 * @param messages       the {@code application/vnd.ollama.image.messages} layer, put before a chat's messages
 * @param licenses       the {@code application/vnd.ollama.image.license} layers
 * @param projector      the {@code application/vnd.ollama.image.projector} blob, when there is one
 * @param adapters       the {@code application/vnd.ollama.image.adapter} blobs (LoRA adapters in GGUF), in order
 * @param manifestDigest {@code sha256:<hex>} of the manifest, the digest Ollama reports for the model
 * @param storeSize      the config's and layers' sizes added up, the size Ollama reports
 * @param parentModel    the model its weights came from (the model layer's {@code from}, which create writes),
 *                       Ollama's {@code details.parent_model}
 */
public record ModelLayers(Optional<String> template, Optional<String> system, Map<String, Object> parameters,
                          List<Message> messages, List<String> licenses, Optional<Path> projector,
                          List<Path> adapters, Optional<String> manifestDigest, long storeSize,
                          Optional<String> parentModel) {

    /** No manifest: the model is a GGUF file alone. */
    public static final ModelLayers NONE = new ModelLayers(Optional.empty(), Optional.empty(), Map.of(), List.of(),
            List.of(), Optional.empty(), List.of(), Optional.empty(), 0, Optional.empty());

    public ModelLayers {
        Objects.requireNonNull(template, "template");
        Objects.requireNonNull(system, "system");
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        messages = List.copyOf(messages);
        licenses = List.copyOf(licenses);
        Objects.requireNonNull(projector, "projector");
        adapters = List.copyOf(adapters);
        Objects.requireNonNull(manifestDigest, "manifestDigest");
        Objects.requireNonNull(parentModel, "parentModel");
    }

    /** True when the model came from a manifest in Ollama's store. */
    public boolean fromStore() {
        return manifestDigest.isPresent();
    }

    /**
     * One message of the messages layer.
     *
     * @param role    {@code system}, {@code user}, {@code assistant} or {@code tool}
     * @param content its text
     */
    public record Message(String role, String content) {
        public Message {
            Objects.requireNonNull(role, "role");
            Objects.requireNonNull(content, "content");
        }
    }
}
