package dev.gantry.models.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.Objects;

/**
 * One entry of a manifest: a blob, its media type and size.
 *
 * @param mediaType e.g. {@link MediaTypes#MODEL}
 * @param digest    the blob
 * @param size      its size in bytes
 * @param from      Ollama's optional note of the model a layer came from; null when absent
 */
public record Layer(String mediaType, Digest digest, long size, String from) {

    public Layer {
        Objects.requireNonNull(mediaType, "mediaType");
        Objects.requireNonNull(digest, "digest");
        if (size < 0) {
            throw new IllegalArgumentException("negative layer size " + size);
        }
    }

    public Layer(String mediaType, Digest digest, long size) {
        this(mediaType, digest, size, null);
    }

    ObjectNode toJson() {
        ObjectNode o = StoreJson.MAPPER.createObjectNode();
        o.put("mediaType", mediaType);
        o.put("digest", digest.toString());
        o.put("size", size);
        if (from != null && !from.isEmpty()) {
            o.put("from", from);
        }
        return o;
    }

    static Layer fromJson(JsonNode n, String where) throws IOException {
        if (!(n instanceof ObjectNode o)) {
            throw new IOException(where + " is not an object");
        }
        String mediaType = StoreJson.text(o, "mediaType")
                .orElseThrow(() -> new IOException(where + " has no mediaType"));
        String digest = StoreJson.text(o, "digest").orElseThrow(() -> new IOException(where + " has no digest"));
        JsonNode size = o.get("size");
        if (size == null || !size.canConvertToLong() || size.longValue() < 0) {
            throw new IOException(where + " has no valid size");
        }
        try {
            return new Layer(mediaType, Digest.parse(digest), size.longValue(),
                    StoreJson.text(o, "from").orElse(null));
        } catch (IllegalArgumentException e) {
            throw new IOException(where + ": " + e.getMessage());
        }
    }
}
