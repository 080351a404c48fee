package dev.gantry.models.store;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import dev.gantry.models.ModelLayers;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Reads the small layers of a manifest (template, system, params, messages, licenses) into {@link ModelLayers}. */
public final class StoreLayers {
    private StoreLayers() {
    }

    /**
     * The layers of {@code m}.
     *
     * @throws IOException when a layer's blob is missing or not what its media type says
     */
    public static ModelLayers read(OllamaStore store, StoredManifest m) throws IOException {
        Manifest man = m.manifest();
        Optional<String> template = text(store, man, MediaTypes.TEMPLATE);
        Optional<String> system = text(store, man, MediaTypes.SYSTEM);
        Map<String, Object> params = new LinkedHashMap<>();
        Optional<Layer> p = man.layer(MediaTypes.PARAMS);
        if (p.isPresent()) {
            params = parameters(store.readSmallBlob(p.get().digest()));
        }
        List<ModelLayers.Message> messages = new ArrayList<>();
        Optional<Layer> ms = man.layer(MediaTypes.MESSAGES);
        if (ms.isPresent()) {
            messages = messages(store.readSmallBlob(ms.get().digest()));
        }
        List<String> licenses = new ArrayList<>();
        for (Layer l : man.layers(MediaTypes.LICENSE)) {
            licenses.add(new String(store.readSmallBlob(l.digest()), StandardCharsets.UTF_8));
        }
        Optional<java.nio.file.Path> projector = man.layer(MediaTypes.PROJECTOR).map(l -> store.blobPath(l.digest()));
        Optional<String> parent = man.layer(MediaTypes.MODEL).map(Layer::from).filter(f -> !f.isEmpty());
        List<java.nio.file.Path> adapters = man.layers(MediaTypes.ADAPTER).stream()
                .map(l -> store.blobPath(l.digest())).toList();
        return new ModelLayers(template, system, params, messages, licenses, projector, adapters,
                Optional.of(m.digest().toString()), man.totalSize(), parent);
    }

    /** A params blob: a JSON object of option names to values. */
    public static Map<String, Object> parameters(byte[] json) throws IOException {
        return StoreJson.MAPPER.convertValue(StoreJson.object(json, "params layer"),
                new TypeReference<LinkedHashMap<String, Object>>() { });
    }

    /** A messages blob: a JSON list of {@code {"role": ..., "content": ...}}. */
    public static List<ModelLayers.Message> messages(byte[] json) throws IOException {
        JsonNode n = StoreJson.MAPPER.readTree(json);
        if (n == null || !n.isArray()) {
            throw new IOException("messages layer is not a JSON list");
        }
        List<ModelLayers.Message> out = new ArrayList<>();
        for (JsonNode m : n) {
            out.add(new ModelLayers.Message(StoreJson.text(m, "role").orElse("user"),
                    StoreJson.text(m, "content").orElse("")));
        }
        return out;
    }

    private static Optional<String> text(OllamaStore store, Manifest man, String type) throws IOException {
        Optional<Layer> l = man.layer(type);
        if (l.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new String(store.readSmallBlob(l.get().digest()), StandardCharsets.UTF_8));
    }
}
