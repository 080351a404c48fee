package dev.gantry.models.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * A model's manifest, Docker's image manifest v2 as Ollama uses it: a config blob and the layers (weights,
 * template, system prompt, parameters, ...), each by digest.
 *
 * <p>The digest Ollama reports for a model is the SHA-256 of the manifest's bytes as stored, so a manifest read
 * from disk or a registry is kept with those bytes ({@link StoredManifest}) rather than re-encoded.
 */
public record Manifest(int schemaVersion, String mediaType, Layer config, List<Layer> layers) {

    public Manifest {
        Objects.requireNonNull(mediaType, "mediaType");
        Objects.requireNonNull(config, "config");
        layers = List.copyOf(layers);
    }

    /** A schema-2 manifest as Ollama writes one. */
    public static Manifest of(Layer config, List<Layer> layers) {
        return new Manifest(2, MediaTypes.MANIFEST, config, layers);
    }

    /** The first layer of a media type. */
    public Optional<Layer> layer(String type) {
        return layers.stream().filter(l -> l.mediaType().equals(type)).findFirst();
    }

    /** Every layer of a media type, in order. */
    public List<Layer> layers(String type) {
        return layers.stream().filter(l -> l.mediaType().equals(type)).toList();
    }

    /** The config blob and every layer: what the manifest keeps alive in {@code blobs/}. */
    public List<Layer> blobs() {
        List<Layer> out = new ArrayList<>(layers.size() + 1);
        out.add(config);
        out.addAll(layers);
        return out;
    }

    /** The config and layers' sizes added up: the model's size as {@code /api/tags} reports it. */
    public long totalSize() {
        long sum = config.size();
        for (Layer l : layers) {
            sum += l.size();
        }
        return sum;
    }

    /** The JSON Ollama writes: {@code schemaVersion}, {@code mediaType}, {@code config}, {@code layers}. */
    public byte[] toJson() {
        ObjectNode o = StoreJson.MAPPER.createObjectNode();
        o.put("schemaVersion", schemaVersion);
        o.put("mediaType", mediaType);
        o.set("config", config.toJson());
        ArrayNode arr = o.putArray("layers");
        for (Layer l : layers) {
            arr.add(l.toJson());
        }
        return StoreJson.write(o);
    }

    /**
     * Parses a manifest.
     *
     * @throws IOException when it is not one, with the reason
     */
    public static Manifest parse(byte[] json) throws IOException {
        ObjectNode o = StoreJson.object(json, "manifest");
        JsonNode version = o.get("schemaVersion");
        int schemaVersion = version != null && version.canConvertToInt() ? version.intValue() : 2;
        if (schemaVersion != 2) {
            throw new IOException("unsupported manifest schemaVersion " + schemaVersion);
        }
        String mediaType = StoreJson.text(o, "mediaType").orElse(MediaTypes.MANIFEST);
        JsonNode config = o.get("config");
        if (config == null) {
            throw new IOException("manifest has no config");
        }
        JsonNode layers = o.get("layers");
        if (layers == null || !layers.isArray()) {
            throw new IOException("manifest has no layers");
        }
        List<Layer> out = new ArrayList<>();
        int i = 0;
        for (JsonNode l : layers) {
            out.add(Layer.fromJson(l, "manifest layer " + i++));
        }
        return new Manifest(schemaVersion, mediaType, Layer.fromJson(config, "manifest config"), out);
    }
}
