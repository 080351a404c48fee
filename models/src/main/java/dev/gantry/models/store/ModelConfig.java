package dev.gantry.models.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.gantry.models.gguf.GgufMetadata;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The config blob of a manifest ({@link MediaTypes#CONFIG}), what {@code /api/tags} shows as {@code details}:
 * {@code model_format}, {@code model_family}, {@code model_families}, {@code model_type} (the parameter size) and
 * {@code file_type} (the quantization), plus the {@code architecture}, {@code os} and {@code rootfs} the image
 * spec requires.
 */
public record ModelConfig(String modelFormat, String modelFamily, List<String> modelFamilies, String modelType,
                          String fileType) {

    public ModelConfig {
        modelFamilies = List.copyOf(modelFamilies);
    }

    /** The config of a GGUF model, its fields read from the header as Ollama reads them. */
    public static ModelConfig of(GgufMetadata g) {
        String family = g.modelFamily();
        return new ModelConfig("gguf", family, List.of(family), g.parameterSizeLabel(), g.quantizationLevel());
    }

    /** The blob's JSON, listing the layers' digests as the image spec's {@code rootfs.diff_ids}. */
    public byte[] toJson(List<Layer> layers) {
        ObjectNode o = StoreJson.MAPPER.createObjectNode();
        o.put("model_format", modelFormat);
        o.put("model_family", modelFamily);
        ArrayNode families = o.putArray("model_families");
        modelFamilies.forEach(families::add);
        o.put("model_type", modelType);
        o.put("file_type", fileType);
        o.put("architecture", "amd64");
        o.put("os", "linux");
        ObjectNode rootfs = o.putObject("rootfs");
        rootfs.put("type", "layers");
        ArrayNode ids = rootfs.putArray("diff_ids");
        layers.forEach(l -> ids.add(l.digest().toString()));
        return StoreJson.write(o);
    }

    /** Reads a config blob; missing fields are empty, as in Ollama. */
    public static ModelConfig parse(byte[] json) throws IOException {
        ObjectNode o = StoreJson.object(json, "model config");
        List<String> families = new ArrayList<>();
        JsonNode f = o.get("model_families");
        if (f != null && f.isArray()) {
            f.forEach(n -> {
                if (n.isTextual()) {
                    families.add(n.textValue());
                }
            });
        }
        return new ModelConfig(StoreJson.text(o, "model_format").orElse(""),
                StoreJson.text(o, "model_family").orElse(""), families,
                StoreJson.text(o, "model_type").orElse(""), StoreJson.text(o, "file_type").orElse(""));
    }
}
